// `--help` and `--version` are answered before the command line is parsed (so
// `dfget --bogus --help` still shows help), and without loading the parser: the
// answer costs little more than starting node. Only what comes before `--` counts.
export type QuickAnswer = "help" | "version";

export function quickAnswer(argv: readonly string[]): QuickAnswer | undefined {
  const options = argv.includes("--") ? argv.slice(0, argv.indexOf("--")) : argv;
  if (options.includes("--help") || options.includes("-h")) return "help";
  if (options.includes("--version") || options.includes("-V")) return "version";
  return undefined;
}
