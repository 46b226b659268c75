// Reference chat-template rendering with @huggingface/jinja (the renderer transformers.js uses).
// stdin: {"template": "...", "contexts": [{...variables...}]}
// stdout: [{"text": "..."} | {"error": "..."}]
import { Template } from "@huggingface/jinja";
import fs from "node:fs";

const job = JSON.parse(fs.readFileSync(0, "utf8"));
let template;
try {
  template = new Template(job.template);
} catch (e) {
  process.stdout.write(JSON.stringify(job.contexts.map(() => ({ error: String(e.message ?? e) }))));
  process.exit(0);
}
const out = job.contexts.map((ctx) => {
  try {
    return { text: template.render(ctx) };
  } catch (e) {
    return { error: String(e.message ?? e) };
  }
});
process.stdout.write(JSON.stringify(out));
