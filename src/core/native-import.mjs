// Node's own dynamic import, kept in a plain .mjs file so that no bundler or test runner rewrites it:
// plugins are always imported by Node with Dumbo's module hooks (loader-hooks.mjs) in effect.
/** @param {string} specifier @returns {Promise<unknown>} */
export function nativeImport(specifier) {
  return import(specifier);
}
