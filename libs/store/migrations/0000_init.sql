CREATE TABLE "certificates" (
	"sha256" text PRIMARY KEY NOT NULL,
	"der" "bytea" NOT NULL
);
--> statement-breakpoint
CREATE TABLE "domain_probes" (
	"scan_id" text NOT NULL,
	"domain" text NOT NULL,
	"ip" text NOT NULL,
	"port" integer NOT NULL,
	"sni" text NOT NULL,
	CONSTRAINT "domain_probes_scan_id_domain_ip_port_sni_pk" PRIMARY KEY("scan_id","domain","ip","port","sni")
);
--> statement-breakpoint
CREATE TABLE "domain_results" (
	"scan_id" text NOT NULL,
	"domain" text NOT NULL,
	"tld" text NOT NULL,
	"facts" jsonb,
	"collected_at" timestamp with time zone,
	"verdict" jsonb,
	"action" text,
	"security" text,
	"reason" text,
	"dane_state" text,
	"mx_host" text,
	"delivered_host" text,
	"judged_at" timestamp with time zone,
	CONSTRAINT "domain_results_scan_id_domain_pk" PRIMARY KEY("scan_id","domain")
);
--> statement-breakpoint
CREATE TABLE "probes" (
	"scan_id" text NOT NULL,
	"ip" text NOT NULL,
	"port" integer NOT NULL,
	"sni" text NOT NULL,
	"status" text NOT NULL,
	"facts" jsonb NOT NULL,
	"probed_at" timestamp with time zone NOT NULL,
	CONSTRAINT "probes_scan_id_ip_port_sni_pk" PRIMARY KEY("scan_id","ip","port","sni")
);
--> statement-breakpoint
CREATE TABLE "scan_domains" (
	"scan_id" text NOT NULL,
	"domain" text NOT NULL,
	"line" integer DEFAULT 0 NOT NULL,
	"state" text NOT NULL,
	CONSTRAINT "scan_domains_scan_id_domain_pk" PRIMARY KEY("scan_id","domain"),
	CONSTRAINT "scan_domains_state_check" CHECK ("scan_domains"."state" in ('seeded', 'resolved', 'judged'))
);
--> statement-breakpoint
CREATE TABLE "scans" (
	"id" text PRIMARY KEY NOT NULL,
	"parameters" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"state" text NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"finished_at" timestamp with time zone,
	"counts" jsonb,
	CONSTRAINT "scans_state_check" CHECK ("scans"."state" in ('running', 'finished', 'interrupted', 'failed'))
);
--> statement-breakpoint
ALTER TABLE "domain_probes" ADD CONSTRAINT "domain_probes_probe_fk" FOREIGN KEY ("scan_id","ip","port","sni") REFERENCES "public"."probes"("scan_id","ip","port","sni") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "domain_probes" ADD CONSTRAINT "domain_probes_domain_fk" FOREIGN KEY ("scan_id","domain") REFERENCES "public"."domain_results"("scan_id","domain") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "domain_results" ADD CONSTRAINT "domain_results_scan_id_scans_id_fk" FOREIGN KEY ("scan_id") REFERENCES "public"."scans"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "probes" ADD CONSTRAINT "probes_scan_id_scans_id_fk" FOREIGN KEY ("scan_id") REFERENCES "public"."scans"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "scan_domains" ADD CONSTRAINT "scan_domains_scan_id_scans_id_fk" FOREIGN KEY ("scan_id") REFERENCES "public"."scans"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "domain_probes_probe_idx" ON "domain_probes" USING btree ("scan_id","ip","port","sni");--> statement-breakpoint
CREATE INDEX "domain_results_action_idx" ON "domain_results" USING btree ("scan_id","action");--> statement-breakpoint
CREATE INDEX "domain_results_dane_idx" ON "domain_results" USING btree ("scan_id","dane_state");--> statement-breakpoint
CREATE INDEX "domain_results_reason_idx" ON "domain_results" USING btree ("scan_id","reason");--> statement-breakpoint
CREATE INDEX "domain_results_tld_idx" ON "domain_results" USING btree ("scan_id","tld");--> statement-breakpoint
CREATE INDEX "domain_results_domain_idx" ON "domain_results" USING btree ("domain","scan_id");--> statement-breakpoint
CREATE INDEX "probes_status_idx" ON "probes" USING btree ("scan_id","status");--> statement-breakpoint
CREATE INDEX "scan_domains_state_idx" ON "scan_domains" USING btree ("scan_id","state","line","domain");--> statement-breakpoint
CREATE INDEX "scans_started_idx" ON "scans" USING btree ("started_at");