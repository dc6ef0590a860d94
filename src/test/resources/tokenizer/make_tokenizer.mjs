// Makes the tokenizer fixtures for PromptTokenizerTest with HuggingFace's own tokenizers library (npm bindings).
//
// How to run (outside the repository, so node_modules never lands in git):
//   node --version            # v20.20.2 was used
//   mkdir -p /tmp/tok-npm && cd /tmp/tok-npm && npm init -y && npm install tokenizers@0.23.2
//   NODE_PATH=/tmp/tok-npm/node_modules node <repo>/src/test/resources/tokenizer/make_tokenizer.mjs
//   (ES modules ignore NODE_PATH, so the script resolves 'tokenizers' through createRequire from that path.)
// Writes, beside this script: tokenizer.json, tokenizer_untrimmed.json, tokenizer_nosplit.json, expected.json.
// The output is deterministic: the corpus comes from a seeded generator and BPE training has no randomness.
//
// What the three tokenizers are:
//   tokenizer.json           byte-level BPE laid out like GPT-NeoX/Pythia's: NFC normalizer, ByteLevel pre-tokenizer
//                            (add_prefix_space false), ByteLevel post-processor (trim_offsets true, so a token 'ĠVWF'
//                            gets the offsets of 'VWF' without its leading space), ByteLevel decoder, <|endoftext|> id 0
//                            and <|padding|> id 1, then the 256 byte symbols, then merges. Vocabulary 600.
//   tokenizer_untrimmed.json the same model without the post-processor: offsets of 'ĠVWF' include the space.
//   tokenizer_nosplit.json   ByteLevel with use_regex false, so nothing splits words at spaces and BPE merges across
//                            them: some tokens span the end of one gene and the start of the next.
//
// How the BPE is trained and laid out like Pythia's (and why training is cut by hand): demo/pythia_bpe.mjs. The
// expected ids/offsets are what the library itself produces when it encodes the test prompts from the saved file.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { fileURLToPath } from 'url';
import { tk, tokenizersVersion, trainCut, save } from '../../../../demo/pythia_bpe.mjs';

const { Tokenizer } = tk;
const HERE = path.dirname(fileURLToPath(import.meta.url));
const VOCAB_SIZE = 600;

// Real human gene symbols (markers of heart cell types, housekeeping, ribosomal, mitochondrial, a few with '-').
const GENES = (
  'MYH7 MYL2 MYL3 FHL2 TNNI3 TNNT2 TTN RYR2 ACTC1 MB SLC8A1 RBM20 MYL7 MYL4 NPPA NPPB MYH6 SLN ' +
  'DCN GSN LUM COL1A2 COL1A1 COL3A1 PDGFRA FBLN1 ABCA8 VWF PECAM1 PTPRB CDH5 SPARCL1 AQP1 FLT1 EMCN ' +
  'RGS5 ABCC9 KCNJ8 MYH11 ACTA2 TAGLN NOTCH3 CD163 LYVE1 C1QA CD14 MRC1 F13A1 PTPRC CD3E CD2 NKG7 IL7R ' +
  'NRXN1 NRXN3 PLP1 SCN7A PLIN1 ADIPOQ GPAM LEP KIT CPA3 TPSAB1 TPSB2 MS4A2 HDC PROX1 CCL21 TFF3 MMRN1 ' +
  'MSLN WT1 BNC1 UPK3B ITLN1 KRT19 ACTB GAPDH B2M TMSB4X TMSB10 FTL FTH1 EEF1A1 TPT1 UBC PPIA HLA-A ' +
  'HLA-B HLA-DRA HLA-DRB1 NKX2-5 RPL13A RPL3 RPL4 RPL10 RPL13 RPS2 RPS3 RPS6 RPS12 RPS27A RPLP0 RPLP1 ' +
  'MT-CO1 MT-CO2 MT-CO3 MT-ND1 MT-ND2 MT-ND4 MT-ND4L MT-ATP6 MT-CYB MALAT1 NEAT1 SOD2 CST3 S100A6 ' +
  'VIM IGFBP7 SPARC CALD1 MGP ELN FABP4 CD36 GJA1 PLN ATP2A2 CKM COX7A1 HSPB7 CRYAB DES'
).split(' ');

// Genes the training corpus never sees, so the tests meet symbols that must be spelled from small pieces.
const UNSEEN = ['ZNF385D', 'KCNQ1OT1', 'SCN5A', 'HCN4'];

const MITO_FIRST = ['MT-CO1', 'MT-CO3', 'MT-ATP6'];

const ORGANISM = 'Homo sapiens';
// C2S cell-type prediction template 0 (vandijklab/cell2sentence prompts/single_cell_cell_type_prediction_prompts.json).
function c2sPrompt(genes) {
  return `The following is a list of ${genes.length} gene names ordered by descending expression level in a ` +
    `${ORGANISM} cell. Your task is to give the cell type which this cell belongs to based on its gene expression.` +
    `\nCell sentence: ${genes.join(' ')}.\nThe cell type corresponding to these genes is:`;
}
const CELL_TYPES = ['ventricular cardiomyocyte', 'atrial cardiomyocyte', 'fibroblast', 'endothelial cell',
  'mural cell', 'myeloid cell', 'lymphoid cell', 'neuronal cell', 'adipocyte', 'mast cell',
  'lymphatic endothelial cell', 'mesothelial cell'];

// mulberry32: a tiny seeded generator so the corpus is the same on every run and machine.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function sample(rand, pool, k) {
  const a = pool.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a.slice(0, k);
}

function corpus() {
  const rand = rng(20240611);
  const lines = [];
  for (let i = 0; i < 300; i++) {
    let genes = sample(rand, GENES, 20 + Math.floor(rand() * 40));
    // Half the cells start with the same mitochondrial transcripts, as many real cells do; with no split at spaces
    // BPE then learns tokens that run from one gene into the next.
    if (rand() < 0.5) genes = MITO_FIRST.concat(genes.filter((g) => !MITO_FIRST.includes(g)));
    const answer = CELL_TYPES[Math.floor(rand() * CELL_TYPES.length)];
    // One line per example keeps the newline inside the prompt from splitting it into two training lines
    // in a way that matters: BPE counts words, and both halves are still seen.
    lines.push(`${c2sPrompt(genes)} ${answer}.`);
  }
  return lines.join('\n') + '\n';
}

function cases() {
  const rand = rng(7);
  const short = ['VWF', 'PECAM1', 'HLA-DRA', 'MT-CO1', 'NKX2-5', 'RPL13A', 'ZNF385D', 'TTN'];
  const medium = sample(rand, GENES, 40).concat(UNSEEN);
  // Over 2,000 tokens: the whole gene list several times over, each pass in a new order. A real sentence has no
  // repeated gene; the tokenizer does not care, and every position still has its own rank.
  let long = [];
  for (let i = 0; i < 7; i++) long = long.concat(sample(rand, GENES.concat(UNSEEN), GENES.length + UNSEEN.length));
  return [
    { name: 'short', genes: short, prompt: c2sPrompt(short) },
    { name: 'medium', genes: medium, prompt: c2sPrompt(medium) },
    { name: 'mito_first', genes: MITO_FIRST.concat(['MYH7', 'TTN', 'ZNF385D']),
      prompt: c2sPrompt(MITO_FIRST.concat(['MYH7', 'TTN', 'ZNF385D'])) },
    { name: 'with_answer', genes: short.slice(0, 5),
      prompt: c2sPrompt(short.slice(0, 5)) + ' endothelial cell.' },
    // Non-ASCII text after the sentence: tells whether offsets count UTF-16 units, code points or bytes.
    { name: 'non_ascii', genes: ['VWF', 'CDH5'],
      prompt: 'Cell sentence: VWF CDH5.\nDie Zelle — café 🫀 endothelial cell.' },
    { name: 'long', genes: long, prompt: c2sPrompt(long) },
  ];
}

async function encodeAll(file, cs) {
  const t = Tokenizer.fromFile(file);
  const out = [];
  for (const c of cs) {
    const e = await t.encode(c.prompt);
    out.push({ tokenizer: path.basename(file), name: c.name, genes: c.genes, prompt: c.prompt,
      ids: e.getIds(), tokens: e.getTokens(), offsets: e.getOffsets() });
  }
  return out;
}

const corpusFile = path.join(os.tmpdir(), 'c2s-tokenizer-corpus.txt');
fs.writeFileSync(corpusFile, corpus());

const regexModel = trainCut(corpusFile, VOCAB_SIZE, true);
const main = save(regexModel, path.join(HERE, 'tokenizer.json'));
const untrimmed = save(regexModel, path.join(HERE, 'tokenizer_untrimmed.json'), { postProcessor: false });
const nosplit = save(trainCut(corpusFile, VOCAB_SIZE, false), path.join(HERE, 'tokenizer_nosplit.json'));

const cs = cases();
const expected = {
  made_by: `npm tokenizers ${tokenizersVersion} on node ${process.version}; src/test/resources/tokenizer/make_tokenizer.mjs`,
  vocab_size: VOCAB_SIZE,
  cases: [
    ...(await encodeAll(main, cs)),
    ...(await encodeAll(untrimmed, cs.filter((c) => c.name !== 'long'))),
    ...(await encodeAll(nosplit, cs.filter((c) => c.name !== 'long'))),
  ],
};
fs.writeFileSync(path.join(HERE, 'expected.json'), JSON.stringify(expected) + '\n');
for (const c of expected.cases) console.log(`${c.tokenizer} ${c.name}: ${c.ids.length} tokens`);
const check = Tokenizer.fromFile(main);
let split = 0;
for (const g of GENES) if ((await check.encode(' ' + g)).getLength() > 1) split++;
console.log(`${split} of ${GENES.length} gene symbols take 2 or more tokens after a space`);
