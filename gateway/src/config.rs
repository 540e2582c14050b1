//! Gateway configuration (`[gateway]` in the TOML file): one serde struct, every field
//! documented with its default; CLI flags override it.

use ferrofs_proto::units::serde_size;
use serde::{Deserialize, Serialize};

/// An S3 access key and its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Key {
    pub access_key: String,
    pub secret_key: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewayConfig {
    /// Master URL (or URLs, as the client accepts them). Default `http://127.0.0.1:9000`.
    pub master: String,
    /// Address the S3 endpoint listens on; empty: no S3 endpoint. Default `127.0.0.1:9100`.
    pub s3_listen: String,
    /// Address the WebHDFS endpoint listens on; empty: none. Default `127.0.0.1:9870`
    /// (Hadoop's NameNode HTTP port).
    pub webhdfs_listen: String,
    /// S3 access keys accepted (SigV4). Default none.
    pub keys: Vec<S3Key>,
    /// Accept unsigned S3 requests. With no keys and this off the S3 endpoint refuses
    /// to start. Default false.
    pub anonymous: bool,
    /// Region GetBucketLocation reports. Default `us-east-1`.
    pub region: String,
    /// Smallest multipart part (other than the last) CompleteMultipartUpload accepts.
    /// Default 5MiB, as S3.
    #[serde(with = "serde_size")]
    pub min_part_size: u64,
    /// URL clients are redirected to for WebHDFS data (CREATE, APPEND, OPEN):
    /// default (empty) is the address each request came in on.
    pub webhdfs_data_url: String,
    /// TLS directory (from `ferrofs ca issue`): the gateway then calls the cluster over
    /// mutual TLS and serves its endpoints over HTTPS (no client certificate asked
    /// for). Set from `--tls` / `FERROFS_TLS` or the `[tls]` section. Default: plain.
    #[serde(skip)]
    pub tls_dir: Option<std::path::PathBuf>,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            master: "http://127.0.0.1:9000".into(),
            s3_listen: "127.0.0.1:9100".into(),
            webhdfs_listen: "127.0.0.1:9870".into(),
            keys: vec![],
            anonymous: false,
            region: "us-east-1".into(),
            min_part_size: 5 << 20,
            webhdfs_data_url: String::new(),
            tls_dir: None,
        }
    }
}

impl GatewayConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.s3_listen.is_empty() && self.webhdfs_listen.is_empty() {
            return Err("neither s3_listen nor webhdfs_listen is set: nothing to serve".into());
        }
        if !self.s3_listen.is_empty() && self.keys.is_empty() && !self.anonymous {
            return Err(
                "the S3 endpoint needs an access key (--access-key/--secret-key, \
                        FERROFS_S3_ACCESS_KEY/FERROFS_S3_SECRET_KEY or [[gateway.keys]]), \
                        or anonymous = true"
                    .into(),
            );
        }
        for k in &self.keys {
            if k.access_key.is_empty() || k.secret_key.is_empty() {
                return Err("an S3 key has an empty access key or secret".into());
            }
        }
        if self.region.is_empty() {
            return Err("region must not be empty".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_needs_a_key_unless_anonymous() {
        let mut c = GatewayConfig::default();
        assert!(c.validate().unwrap_err().contains("access key"));
        c.anonymous = true;
        c.validate().unwrap();
        c.anonymous = false;
        c.keys.push(S3Key {
            access_key: "ak".into(),
            secret_key: "sk".into(),
        });
        c.validate().unwrap();
        c.keys[0].secret_key.clear();
        assert!(c.validate().is_err());
    }

    #[test]
    fn parses_a_toml_section_with_sizes() {
        let c: GatewayConfig = toml_like(
            r#"{"s3_listen":"0.0.0.0:9100","min_part_size":"8MiB",
                "keys":[{"access_key":"a","secret_key":"b"}]}"#,
        );
        assert_eq!(c.min_part_size, 8 << 20);
        assert_eq!(c.keys.len(), 1);
        assert_eq!(c.webhdfs_listen, "127.0.0.1:9870");
    }

    #[test]
    fn the_example_config_parses_and_matches_the_defaults() {
        let text = include_str!("../../etc/ferrofs.toml");
        let mut doc: toml::Table = toml::from_str(text).unwrap();
        let c: GatewayConfig = doc.remove("gateway").unwrap().try_into().unwrap();
        let d = GatewayConfig::default();
        assert_eq!(
            (
                &c.master,
                &c.s3_listen,
                &c.webhdfs_listen,
                c.anonymous,
                &c.region,
                c.min_part_size
            ),
            (
                &d.master,
                &d.s3_listen,
                &d.webhdfs_listen,
                d.anonymous,
                &d.region,
                d.min_part_size
            )
        );
        assert!(c.keys.is_empty());
    }

    fn toml_like(json: &str) -> GatewayConfig {
        serde_json::from_str(json).unwrap()
    }
}
