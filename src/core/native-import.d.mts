export declare function nativeImport(specifier: string): Promise<unknown>;
