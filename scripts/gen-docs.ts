/**
 * Writes the generated documents in docs/: the CloudFormation template and the IAM policy for the
 * default table name. `tests/Table.test.ts` fails when they drift from `Table.cloudFormation` /
 * `Table.iamPolicy`; run `deno run -A scripts/gen-docs.ts` to refresh them.
 */
import * as Table from "../src/services/Table.ts";

export const DEFAULT_TABLE = "dynamomq";

export const generated: Record<string, string> = {
  "docs/table.cfn.json": JSON.stringify(Table.cloudFormation(DEFAULT_TABLE), null, 2) + "\n",
  "docs/iam-policy.json": JSON.stringify(Table.iamPolicy({ table: DEFAULT_TABLE }), null, 2) + "\n",
  "docs/iam-policy-admin.json":
    JSON.stringify(Table.iamPolicy({ table: DEFAULT_TABLE, admin: true }), null, 2) + "\n",
};

if (import.meta.main) {
  for (const [path, text] of Object.entries(generated)) {
    await Deno.writeTextFile(new URL(`../${path}`, import.meta.url), text);
    console.log(`wrote ${path}`);
  }
}
