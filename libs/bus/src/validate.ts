/**
 * Compiled validators (TypeCompiler) for the fact and verdict schemas, for
 * packages that validate at their own boundary (the store, the API) without
 * depending on TypeBox directly.
 * `firstError(validator, value)` is "<json path>: <message>" for the first
 * violation, or undefined when the value is valid. Never throws.
 */
import type { TSchema } from "@sinclair/typebox";
import { type TypeCheck, TypeCompiler } from "@sinclair/typebox/compiler";
import { DomainFactsSchema, ProbeFactsSchema, VerdictRecordSchema } from "./schemas.ts";

export const domainFactsValidator = TypeCompiler.Compile(DomainFactsSchema);
export const probeFactsValidator = TypeCompiler.Compile(ProbeFactsSchema);
export const verdictRecordValidator = TypeCompiler.Compile(VerdictRecordSchema);

export function firstError<T extends TSchema>(validator: TypeCheck<T>, value: unknown): string | undefined {
  if (validator.Check(value)) return undefined;
  const err = validator.Errors(value).First();
  if (!err) return "/: invalid";
  return `${err.path === "" ? "/" : err.path}: ${err.message}`.slice(0, 500);
}
