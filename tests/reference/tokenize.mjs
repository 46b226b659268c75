// Reference tokenization with @huggingface/tokenizers (Hugging Face's JavaScript port of tokenizers).
// stdin: {"dir": "<folder with tokenizer.json and tokenizer_config.json>", "texts": [...], "decode": [[ids], ...]}
// stdout: {"encoded": [{"ids": [...], "withSpecial": [...], "decoded": "..."}], "decoded": ["..."]}
import { Tokenizer } from "@huggingface/tokenizers";
import fs from "node:fs";
import path from "node:path";

const job = JSON.parse(fs.readFileSync(0, "utf8"));
const json = JSON.parse(fs.readFileSync(path.join(job.dir, "tokenizer.json"), "utf8"));
const config = JSON.parse(fs.readFileSync(path.join(job.dir, "tokenizer_config.json"), "utf8"));
const tokenizer = new Tokenizer(json, config);
const opts = { clean_up_tokenization_spaces: false };
const encoded = (job.texts ?? []).map((t) => {
  const ids = tokenizer.encode(t, { add_special_tokens: false }).ids;
  return { ids, decoded: ids.length ? tokenizer.decode(ids, opts) : "" };
});
const decoded = (job.decode ?? []).map((ids) => (ids.length ? tokenizer.decode(ids, opts) : ""));
process.stdout.write(JSON.stringify({ encoded, decoded }));
