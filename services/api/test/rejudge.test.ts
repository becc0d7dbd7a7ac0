/**
 * The re-judging routes over PGlite (in memory).
 */
import { openStore } from "@danesweep/store";
import { rejudgeApiSuite } from "./rejudge-suite.ts";

rejudgeApiSuite("pglite", () => openStore({ memory: true }));
