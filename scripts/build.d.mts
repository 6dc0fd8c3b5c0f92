export declare const SOURCE_DIRS: string[];
export declare const STAMP: string;
export declare function sourceFiles(): string[];
export declare function isStale(): boolean;
export declare function build(): Promise<void>;
