CREATE SEQUENCE "public"."judged_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1;--> statement-breakpoint
CREATE TABLE "probe_waits" (
	"scan_id" text NOT NULL,
	"domain" text NOT NULL,
	"ip" text NOT NULL,
	"port" integer NOT NULL,
	"sni" text NOT NULL,
	CONSTRAINT "probe_waits_scan_id_domain_ip_port_sni_pk" PRIMARY KEY("scan_id","domain","ip","port","sni")
);
--> statement-breakpoint
ALTER TABLE "domain_results" ADD COLUMN "judged_seq" bigint;--> statement-breakpoint
ALTER TABLE "probe_waits" ADD CONSTRAINT "probe_waits_scan_id_scans_id_fk" FOREIGN KEY ("scan_id") REFERENCES "public"."scans"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "probe_waits_probe_idx" ON "probe_waits" USING btree ("scan_id","ip","port","sni");--> statement-breakpoint
CREATE INDEX "domain_results_judged_seq_idx" ON "domain_results" USING btree ("scan_id","judged_seq");