// Parses an AsyncAPI document with the official parser, Avro schemas included, and reports what it finds.
// Usage: node tools/asyncapi/validate.mjs contracts/asyncapi.yaml
// Exit 0 when the parser finds no error (warnings are printed too), 1 on any error, 2 on a wrong call.
import { resolve } from 'node:path';
import { Parser, fromFile } from '@asyncapi/parser';
import { AvroSchemaParser } from '@asyncapi/avro-schema-parser';

const SEVERITIES = ['erreur', 'avertissement', 'information', 'indice'];
const ERROR = 0;
const WARNING = 1;

function where(diagnostic) {
  const path = (diagnostic.path ?? []).join('/');
  const line = diagnostic.range ? `:${diagnostic.range.start.line + 1}` : '';
  return `${path || '/'}${line}`;
}

// The parser validates Avro schemas of AsyncAPI 2 documents only: for a 3.0 document it converts them without a
// check, so each one goes through the Avro parser's own validation (avsc) here, its problems kept as errors.
function checkedAvro(problems) {
  const avro = AvroSchemaParser();
  return {
    ...avro,
    async parse(input) {
      for (const problem of await avro.validate(input)) {
        problems.push({ severity: ERROR, code: 'avro-schema', path: problem.path, message: problem.message });
      }
      return avro.parse(input);
    },
  };
}

async function main(file) {
  if (!file) {
    console.error('usage : node validate.mjs <document AsyncAPI>');
    return 2;
  }
  // An absolute source: the parser resolves the document's relative $ref (the .avsc files) from it.
  const source = resolve(file);
  const avroProblems = [];
  const parser = new Parser({ schemaParsers: [checkedAvro(avroProblems)] });
  const { document, diagnostics } = await fromFile(parser, source).parse();
  let errors = 0;
  for (const diagnostic of [...diagnostics, ...avroProblems]) {
    if (diagnostic.severity > WARNING) continue;
    errors += diagnostic.severity === ERROR ? 1 : 0;
    const label = SEVERITIES[diagnostic.severity];
    console.log(`${label} [${diagnostic.code}] ${where(diagnostic)} : ${diagnostic.message}`);
  }
  if (!document || errors > 0) {
    console.log(`${source} : invalide (${errors} erreur(s))`);
    return 1;
  }
  const channels = document.channels().length;
  const messages = document.allMessages().length;
  console.log(`${source} : valide (${channels} canaux, ${messages} messages)`);
  return 0;
}

process.exitCode = await main(process.argv[2]);
