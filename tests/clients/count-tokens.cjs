// Counts the tokens of standard input with OpenAI's o200k_base encoding (gpt-tokenizer, pinned
// in package.json): the tool-list budget test and bench/tool_list.py measure with it.
const { encode } = require("gpt-tokenizer/encoding/o200k_base");
let text = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { text += chunk; });
process.stdin.on("end", () => { process.stdout.write(String(encode(text).length) + "\n"); });
