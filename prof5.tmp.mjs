import { readFileSync } from 'node:fs';
import * as Y from 'yaml';
const text = readFileSync('/tmp/tmp.9YRZdhQQ4o/stack.yaml','utf8');
const cpu = (f) => { const t = process.cpuUsage(); f(); const n = process.cpuUsage(t); return ((n.user+n.system)/1000).toFixed(0); };
for (let r = 0; r < 3; r++) {
  console.log('round', r,
    'lexer', cpu(() => { for (const _ of new Y.Lexer().lex(text)); }),
    'parser(CST)', cpu(() => { for (const _ of new Y.Parser().parse(text)); }),
    'parseDocument', cpu(() => Y.parseDocument(text)),
    'parseDocument+merge', cpu(() => Y.parseDocument(text, {merge: true})),
    'parseAllDocuments+lc', cpu(() => Y.parseAllDocuments(text, {merge: true, lineCounter: new Y.LineCounter()})),
    'JSON.parse-equiv', cpu(() => JSON.parse(JSON.stringify(Y.parse(text, {merge:true, maxAliasCount: -1})))));
}
