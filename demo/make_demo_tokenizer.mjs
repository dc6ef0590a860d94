// Makes demo/model/tokenizer.json: the demo C2S model's byte-level BPE tokenizer, trained with HuggingFace's own
// tokenizers library (npm bindings) on the demo atlas's C2S prompts and answers.
//
// How to run, from the repository root (node v20.20.2 was used; node_modules stays outside the repository):
//   mkdir -p /tmp/tok-npm && (cd /tmp/tok-npm && npm init -y && npm install tokenizers@0.23.2)
//   /usr/bin/python3 demo/make_demo_atlas.py --out /tmp/heart_demo.h5ad --prompts /tmp/demo_prompts.txt
//   NODE_PATH=/tmp/tok-npm/node_modules node demo/make_demo_tokenizer.mjs /tmp/demo_prompts.txt
// The prompts file has one line per cell: C2S cell-type template 0 with the cell's top 200 genes (by count, ties in
// gene order) and the answer ' {cell type}.'. Deterministic: same prompts, same tokenizer.
//
// The vocabulary is kept small (VOCAB_SIZE) so that, as with Pythia's 50k vocabulary on real gene symbols, most
// genes are spelled with two or more tokens; the script prints that share and the mean prompt length in tokens.
// Layout and training: demo/pythia_bpe.mjs.
import fs from 'fs';
import path from 'path';
import { fileURLToPath } from 'url';
import { tk, tokenizersVersion, trainCut, save } from './pythia_bpe.mjs';

const { Tokenizer } = tk;
const HERE = path.dirname(fileURLToPath(import.meta.url));
const VOCAB_SIZE = 2000;

const promptsFile = process.argv[2];
if (!promptsFile || !fs.existsSync(promptsFile)) {
  console.error('usage: node demo/make_demo_tokenizer.mjs PROMPTS.txt (made by demo/make_demo_atlas.py --prompts)');
  process.exit(2);
}

const out = save(trainCut(promptsFile, VOCAB_SIZE), path.join(HERE, 'model', 'tokenizer.json'));
const tok = Tokenizer.fromFile(out);

const genes = fs.readFileSync(path.join(HERE, 'genes.tsv'), 'utf8').trim().split('\n').slice(1)
  .map((line) => line.split('\t')[0]);
let split = 0;
let pieces = 0;
for (const g of genes) {
  // In a sentence every gene but the first follows a space, which byte-level BPE glues to its first piece.
  const n = (await tok.encode(' ' + g)).getLength();
  pieces += n;
  if (n >= 2) split++;
}

const lines = fs.readFileSync(promptsFile, 'utf8').split('\n');
const examples = [];
for (let i = 0; i + 1 < lines.length; i += 3) {
  // Each example spans three lines: the instruction, 'Cell sentence: ...', and the question with the answer.
  examples.push(`${lines[i]}\n${lines[i + 1]}\n${lines[i + 2]}`);
}
const seen = new Set();
for (const ex of examples) {
  const sentence = ex.split('\n')[1];
  for (const g of sentence.slice('Cell sentence: '.length, -1).split(' ')) seen.add(g);
}
let seenSplit = 0;
for (const g of seen) if ((await tok.encode(' ' + g)).getLength() >= 2) seenSplit++;
let promptTokens = 0;
let maxPrompt = 0;
for (const ex of examples) {
  const prompt = ex.slice(0, ex.lastIndexOf(':') + 1);
  const n = (await tok.encode(prompt)).getLength();
  promptTokens += n;
  maxPrompt = Math.max(maxPrompt, n);
}

// Circuits target the first token of the predicted answer, so every cell type must start with its own token.
const firstToken = new Map();
for (const ex of examples) {
  const answer = ex.slice(ex.lastIndexOf(':') + 1);
  if (firstToken.has(answer)) continue;
  const e = await tok.encode(answer);
  firstToken.set(answer, e.getTokens());
}
const firsts = [...firstToken.values()].map((t) => t[0]);
if (new Set(firsts).size !== firsts.length) {
  throw new Error(`two cell types share their first answer token: ${JSON.stringify([...firstToken])}`);
}

console.log(`wrote ${out} with npm tokenizers ${tokenizersVersion} on node ${process.version}`);
console.log(`vocab size ${tok.getVocabSize(true)}`);
console.log(`gene symbols spelled with >= 2 tokens: ${split} of ${genes.length} ` +
  `(${(100 * split / genes.length).toFixed(1)}%), mean ${(pieces / genes.length).toFixed(2)} tokens per gene`);
console.log(`  of the ${seen.size} genes that occur in the prompts: ${seenSplit} ` +
  `(${(100 * seenSplit / seen.size).toFixed(1)}%)`);
console.log(`prompts: ${examples.length}, mean length ${(promptTokens / examples.length).toFixed(1)} tokens, ` +
  `max ${maxPrompt} (without the answer)`);
for (const [answer, tokens] of firstToken) console.log(`answer '${answer}': ${tokens.join(' ')}`);
