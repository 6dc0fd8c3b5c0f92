// The renderer's ambient types (window.dumbo, `.vue` modules) for the renderer tests, which the root
// tsconfig checks together with the Node code. That env.d.ts is a global script, not a module: it can only
// be referenced, not imported.
// eslint-disable-next-line @typescript-eslint/triple-slash-reference
/// <reference path="../../src/renderer/src/env.d.ts" />
