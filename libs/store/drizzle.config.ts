/**
 * drizzle-kit configuration: `pnpm --filter @danesweep/store generate` writes
 * SQL migrations for src/schema.ts into ./drizzle (committed; applied at start
 * by src/migrate.ts on PGlite and PostgreSQL alike).
 */
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./src/schema.ts",
  out: "./drizzle",
  strict: true,
  verbose: true,
});
