-- The OpenEMR tables oemr-doctor and its sandbox read and write, with the column names and
-- types of a real install (sql/database.sql and the upgrade scripts up to 7.0.3). Other
-- columns of the real tables are left out; nothing here reads them.

CREATE TABLE IF NOT EXISTS `oauth_clients` (
  `client_id` varchar(80) NOT NULL,
  `client_role` varchar(20) DEFAULT NULL,
  `client_name` varchar(80) NOT NULL,
  `client_secret` text,
  `registration_token` varchar(80) DEFAULT NULL,
  `registration_uri_path` varchar(40) DEFAULT NULL,
  `register_date` datetime DEFAULT NULL,
  `revoke_date` datetime DEFAULT NULL,
  `contacts` text,
  `redirect_uri` text,
  `grant_types` varchar(80) DEFAULT NULL,
  `scope` text,
  `user_id` varchar(40) DEFAULT NULL,
  `site_id` varchar(64) DEFAULT NULL,
  `is_confidential` tinyint(1) NOT NULL DEFAULT 1,
  `logout_redirect_uris` text,
  `jwks_uri` text,
  `jwks` text,
  `initiate_login_uri` text,
  `endorsements` text,
  `policy_uri` text,
  `tos_uri` text,
  `is_enabled` tinyint(1) NOT NULL DEFAULT 0,
  `skip_ehr_launch_authorization_flow` tinyint(1) NOT NULL DEFAULT 0,
  `dsi_type` tinyint unsigned NOT NULL DEFAULT 1,
  PRIMARY KEY (`client_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS `globals` (
  `gl_name` varchar(63) NOT NULL,
  `gl_index` int(11) NOT NULL DEFAULT 0,
  `gl_value` varchar(255) NOT NULL DEFAULT '',
  PRIMARY KEY (`gl_name`, `gl_index`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS `jwt_grant_history` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `jti` varchar(100) NOT NULL,
  `client_id` varchar(80) NOT NULL,
  `jti_exp` timestamp NULL DEFAULT NULL,
  `creation_date` datetime DEFAULT current_timestamp(),
  PRIMARY KEY (`id`),
  KEY `jti` (`jti`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS `api_token` (
  `id` bigint(20) NOT NULL AUTO_INCREMENT,
  `user_id` varchar(40) DEFAULT NULL,
  `token` varchar(128) DEFAULT NULL,
  `expiry` datetime DEFAULT NULL,
  `client_id` varchar(80) DEFAULT NULL,
  `scope` text,
  `revoked` tinyint(1) NOT NULL DEFAULT 0,
  `context` text,
  PRIMARY KEY (`id`),
  UNIQUE KEY `token` (`token`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS `oauth_trusted_user` (
  `id` bigint(20) NOT NULL AUTO_INCREMENT,
  `user_id` varchar(80) DEFAULT NULL,
  `client_id` varchar(80) DEFAULT NULL,
  `scope` text,
  `persist_login` tinyint(1) DEFAULT 0,
  `time` timestamp NULL DEFAULT current_timestamp(),
  `code` text,
  `session_cache` text,
  `grant_type` varchar(32) DEFAULT NULL,
  PRIMARY KEY (`id`),
  KEY `accounts_id` (`user_id`),
  KEY `clients_id` (`client_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS `users` (
  `id` bigint(20) NOT NULL AUTO_INCREMENT,
  `uuid` binary(16) DEFAULT NULL,
  `username` varchar(255) DEFAULT NULL,
  `fname` varchar(255) DEFAULT NULL,
  `lname` varchar(255) DEFAULT NULL,
  `active` tinyint(1) NOT NULL DEFAULT 1,
  PRIMARY KEY (`id`),
  UNIQUE KEY `uuid` (`uuid`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS `patient_data` (
  `id` bigint(20) NOT NULL AUTO_INCREMENT,
  `uuid` binary(16) DEFAULT NULL,
  `pid` bigint(20) NOT NULL DEFAULT 0,
  `fname` varchar(255) NOT NULL DEFAULT '',
  `lname` varchar(255) NOT NULL DEFAULT '',
  `mname` varchar(255) NOT NULL DEFAULT '',
  `DOB` date DEFAULT NULL,
  `sex` varchar(255) NOT NULL DEFAULT '',
  `street` varchar(255) NOT NULL DEFAULT '',
  `city` varchar(255) NOT NULL DEFAULT '',
  `state` varchar(255) NOT NULL DEFAULT '',
  `postal_code` varchar(255) NOT NULL DEFAULT '',
  PRIMARY KEY (`id`),
  UNIQUE KEY `pid` (`pid`),
  UNIQUE KEY `uuid` (`uuid`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS `version` (
  `v_major` int(11) NOT NULL DEFAULT 0,
  `v_minor` int(11) NOT NULL DEFAULT 0,
  `v_patch` int(11) NOT NULL DEFAULT 0,
  `v_realpatch` int(11) NOT NULL DEFAULT 0,
  `v_tag` varchar(31) NOT NULL DEFAULT '',
  `v_database` int(11) NOT NULL DEFAULT 0,
  `v_acl` int(11) NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
