// Trains a byte-level BPE tokenizer laid out like GPT-NeoX/Pythia's, with HuggingFace's own tokenizers library
// (npm bindings). Shared by demo/make_demo_tokenizer.mjs and src/test/resources/tokenizer/make_tokenizer.mjs.
//
// Needs the npm package outside the repository (node_modules is never committed):
//   mkdir -p /tmp/tok-npm && cd /tmp/tok-npm && npm init -y && npm install tokenizers@0.23.2
// and NODE_PATH pointing at that node_modules (default /tmp/tok-npm/node_modules). ES modules ignore NODE_PATH, so
// the package is resolved through createRequire from there.
//
// Layout (as in EleutherAI's Pythia tokenizer.json): NFC normalizer; ByteLevel pre-tokenizer with
// add_prefix_space false; ByteLevel post-processor with trim_offsets true (offsets of 'ĠVWF' exclude the space);
// ByteLevel decoder; special tokens <|endoftext|> (id 0) and <|padding|> (id 1); then the 256 byte-level symbols
// in code-point order; then one symbol per merge, in merge order.
//
// Why training is cut by hand: the 0.23.2 bindings train only through the model's default trainer
// (BpeTrainer::default(): vocab_size 30000, min_frequency 0) and expose no trainer options. BPE training is greedy,
// so the trainer with vocab_size V returns exactly the first merges of the unrestricted run, in the same order. We
// train unrestricted, keep merges until the vocabulary holds V symbols, write the JSON, and let the library load it
// (Tokenizer.fromString) and save it in its own canonical form.
import { createRequire } from 'module';
import fs from 'fs';
import os from 'os';
import path from 'path';

const require = createRequire(path.join(process.env.NODE_PATH || '/tmp/tok-npm/node_modules', 'x.js'));
export const tk = require('tokenizers');
export const tokenizersVersion = require('tokenizers/package.json').version;
const { Tokenizer, BPE, byteLevelPreTokenizer, byteLevelAlphabet, nfcNormalizer } = tk;

const BYTE_LEVEL = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
export const SPECIAL_TOKENS = ['<|endoftext|>', '<|padding|>'];

/** Trains without limit on corpusFile and returns the vocabulary and merges cut at vocabSize symbols. */
export function trainCut(corpusFile, vocabSize, useRegex = true) {
  const t = new Tokenizer(BPE.empty());
  t.setNormalizer(nfcNormalizer());
  t.setPreTokenizer(byteLevelPreTokenizer(false, useRegex));
  t.train([corpusFile]);
  const tmp = path.join(os.tmpdir(), `tok-full-${process.pid}-${useRegex}.json`);
  t.save(tmp, false);
  const full = JSON.parse(fs.readFileSync(tmp, 'utf8'));
  fs.unlinkSync(tmp);

  const vocab = {};
  let next = 0;
  for (const s of SPECIAL_TOKENS) vocab[s] = next++;
  const alphabet = byteLevelAlphabet().slice().sort((x, y) => x.codePointAt(0) - y.codePointAt(0));
  if (alphabet.length !== 256) throw new Error(`byte-level alphabet has ${alphabet.length} symbols, expected 256`);
  for (const ch of alphabet) vocab[ch] = next++;
  const merges = [];
  for (const m of full.model.merges) {
    if (next >= vocabSize) break;
    const [a, b] = Array.isArray(m) ? m : m.split(' ');
    if (!(a in vocab) || !(b in vocab)) throw new Error(`merge ${a} ${b} uses a symbol outside the vocabulary`);
    merges.push([a, b]);
    if (!((a + b) in vocab)) vocab[a + b] = next++;
  }
  if (next !== vocabSize) {
    throw new Error(`the corpus yields only ${next} symbols in all, fewer than the ${vocabSize} asked for`);
  }
  return { full, vocab, merges, useRegex };
}

/**
 * Writes the cut model as a tokenizer.json at outFile, through the library. Without a post-processor, offsets keep
 * the space that byte-level BPE glues to the front of a word.
 */
export function save({ full, vocab, merges, useRegex }, outFile, { postProcessor = true } = {}) {
  const json = structuredClone(full);
  json.added_tokens = SPECIAL_TOKENS.map((content, id) => (
    { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
  json.normalizer = { type: 'NFC' };
  json.pre_tokenizer = { ...BYTE_LEVEL, use_regex: useRegex };
  json.post_processor = postProcessor ? { ...BYTE_LEVEL, use_regex: useRegex } : null;
  json.decoder = { ...BYTE_LEVEL, use_regex: useRegex };
  json.model.vocab = vocab;
  json.model.merges = merges;
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  Tokenizer.fromString(JSON.stringify(json)).save(outFile, true);
  return outFile;
}
