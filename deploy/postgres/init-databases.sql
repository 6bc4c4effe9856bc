-- One database and one login role per service, for docker-compose only.
--
-- The official postgres image runs this file once, when its data volume is
-- empty. It creates roles and databases only: every table is created by the
-- owning service's versioned migrations (`/app -migrate-only`, or at start-up).
--
-- The passwords are development-only and match the DATABASE_URLs in
-- docker-compose.yml. Kubernetes deployments use external PostgreSQL and take
-- their connection strings from Secrets.

CREATE ROLE auth       LOGIN PASSWORD 'auth-dev-only';
CREATE ROLE portfolio  LOGIN PASSWORD 'portfolio-dev-only';
CREATE ROLE profit     LOGIN PASSWORD 'profit-dev-only';
CREATE ROLE withdrawal LOGIN PASSWORD 'withdrawal-dev-only';
CREATE ROLE stats      LOGIN PASSWORD 'stats-dev-only';

-- Each role owns its database, so it may create its schema objects (in
-- PostgreSQL 15 the public schema belongs to the database owner).
CREATE DATABASE authdb       OWNER auth;
CREATE DATABASE portfoliodb  OWNER portfolio;
CREATE DATABASE profitdb     OWNER profit;
CREATE DATABASE withdrawaldb OWNER withdrawal;
CREATE DATABASE statsdb      OWNER stats;

-- No service may connect to another service's database.
REVOKE ALL ON DATABASE authdb       FROM PUBLIC;
REVOKE ALL ON DATABASE portfoliodb  FROM PUBLIC;
REVOKE ALL ON DATABASE profitdb     FROM PUBLIC;
REVOKE ALL ON DATABASE withdrawaldb FROM PUBLIC;
REVOKE ALL ON DATABASE statsdb      FROM PUBLIC;

-- The PostgreSQL exporters' role (docker-compose.yml's postgres-exporter-*):
-- pg_monitor reads every session's activity and the statistics views, and
-- nothing of the services' data.
CREATE ROLE monitor LOGIN PASSWORD 'monitor-dev-only';
GRANT pg_monitor TO monitor;
GRANT CONNECT ON DATABASE authdb, portfoliodb, profitdb, withdrawaldb, statsdb TO monitor;
