// Placeholder until the CLI lands (issue 6): the entry point bin/tsstack.js calls main().
export async function main(argv: string[]): Promise<number> {
  if (argv[0] === '--version' || argv[0] === 'version') { console.log('tsstack 0.1.0'); return 0; }
  console.error('tsstack: not implemented yet');
  return 2;
}
