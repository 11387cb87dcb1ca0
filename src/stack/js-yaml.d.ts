// The part of js-yaml 4's API that yaml-read.ts uses (the package ships no types).
declare module 'js-yaml' {
  interface TypeOptions {
    kind: 'scalar' | 'sequence' | 'mapping';
    resolve?: (data: any) => boolean;
    construct?: (data: any) => unknown;
  }
  class Type {
    constructor(tag: string, options: TypeOptions);
  }
  class Schema {
    extend(types: { implicit?: Type[]; explicit?: Type[] } | Type[]): Schema;
  }
  class YAMLException extends Error {
    reason: string;
    mark?: { line: number; column: number; snippet?: string };
  }
  interface LoadOptions {
    filename?: string;
    schema?: Schema;
    json?: boolean;
    listener?: (event: 'open' | 'close', state: { line: number; position: number; kind: string | null; result: unknown }) => void;
  }
  const yaml: {
    Type: typeof Type;
    Schema: typeof Schema;
    YAMLException: typeof YAMLException;
    FAILSAFE_SCHEMA: Schema;
    CORE_SCHEMA: Schema;
    types: Record<'null' | 'bool' | 'int' | 'float' | 'merge' | 'str' | 'seq' | 'map', Type>;
    load(text: string, options?: LoadOptions): unknown;
    loadAll(text: string, iterator: undefined, options?: LoadOptions): unknown[];
  };
  export default yaml;
  export type { Type as YamlType };
}
