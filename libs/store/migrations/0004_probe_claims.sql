CREATE TABLE "probe_claims" (
	"scan_id" text NOT NULL,
	"ip" text NOT NULL,
	"port" integer NOT NULL,
	"sni" text NOT NULL,
	"owner" text NOT NULL,
	"claimed_at" timestamp with time zone NOT NULL,
	CONSTRAINT "probe_claims_scan_id_ip_port_sni_pk" PRIMARY KEY("scan_id","ip","port","sni")
);
--> statement-breakpoint
ALTER TABLE "probe_claims" ADD CONSTRAINT "probe_claims_scan_id_scans_id_fk" FOREIGN KEY ("scan_id") REFERENCES "public"."scans"("id") ON DELETE cascade ON UPDATE no action;