import { openStore } from "../src/store.ts";
import { rejudgeScanData } from "./rejudge-data.ts";
import { storeScan } from "./scan-data.ts";

const store = await openStore({ dataDir: process.argv[2]! });
const id = await storeScan(store, rejudgeScanData(), { parameters: { probeMode: "all", policy: "postfix" } });
console.log(id);
await store.close();
