// A CommonJS require for a package's parts loaded on first use, without loading
// node:module where that costs start-up: the bundle (dist/cli/tsstack.cjs) runs with
// CommonJS's own `require` (bin/'s, which finds the same node_modules); the ES modules
// of dist/src make one with createRequire, whose module their own loader has loaded.
export function cjsRequire(url: string): NodeJS.Require {
  if (typeof require === 'function') return require;
  return process.getBuiltinModule('node:module').createRequire(url);
}
