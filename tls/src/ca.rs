//! The cluster CA (`ferrofs ca init CA_DIR`: `ca.pem`, `ca-key.pem`) and node or client
//! certificates signed by it (`ferrofs ca issue CA_DIR OUT_DIR --name N --host H...`:
//! `OUT_DIR/ca.pem`, `cert.pem`, `key.pem`). Every certificate serves as both a server
//! and a client certificate (mutual TLS between nodes; curl can use a client's).

use crate::{Result, TlsError};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use std::path::Path;
use time::{Duration, OffsetDateTime};

/// Lifetime of the CA and of the certificates it issues.
const CA_DAYS: i64 = 3650;
const CERT_DAYS: i64 = 825;

fn write(path: &Path, data: &str, private: bool) -> Result<()> {
    let io = |source| TlsError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(io)?;
    }
    std::fs::write(path, data).map_err(io)?;
    if private {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    Ok(())
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| TlsError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// The CA's subject and usages: the same at `init` and at every `issue` (an issuer is
/// its name and key; rebuilding it spares parsing X.509).
fn ca_params() -> Result<CertificateParams> {
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name
        .push(DnType::CommonName, "ferrofs cluster CA");
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(p)
}

/// Make a cluster CA in `dir` (refuses to overwrite one).
pub fn init(dir: &Path) -> Result<()> {
    if dir.join("ca-key.pem").exists() {
        return Err(TlsError::Usage(format!(
            "{} already holds a CA (ca-key.pem)",
            dir.display()
        )));
    }
    let key = KeyPair::generate()?;
    let mut p = ca_params()?;
    let now = OffsetDateTime::now_utc();
    p.not_before = now - Duration::hours(1);
    p.not_after = now + Duration::days(CA_DAYS);
    let cert = p.self_signed(&key)?;
    write(&dir.join("ca.pem"), &cert.pem(), false)?;
    write(&dir.join("ca-key.pem"), &key.serialize_pem(), true)
}

/// Issue a certificate named `name` for `hosts` (DNS names or IP addresses) into `out`:
/// `ca.pem`, `cert.pem`, `key.pem`.
pub fn issue(ca_dir: &Path, out: &Path, name: &str, hosts: &[String]) -> Result<()> {
    if name.is_empty() {
        return Err(TlsError::Usage("--name must not be empty".into()));
    }
    let ca_pem = read(&ca_dir.join("ca.pem"))?;
    let ca_key = KeyPair::from_pem(&read(&ca_dir.join("ca-key.pem"))?)?;
    let issuer = Issuer::new(ca_params()?, ca_key);
    let key = KeyPair::generate()?;
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    p.distinguished_name.push(DnType::CommonName, name);
    for h in hosts {
        p.subject_alt_names
            .push(match h.parse::<std::net::IpAddr>() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) if valid_dns_name(h) => SanType::DnsName(h.clone().try_into()?),
                Err(_) => {
                    return Err(TlsError::Usage(format!(
                        "--host {h:?} is neither an IP address nor a DNS name"
                    )));
                }
            });
    }
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    p.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let now = OffsetDateTime::now_utc();
    p.not_before = now - Duration::hours(1);
    p.not_after = now + Duration::days(CERT_DAYS);
    let cert = p.signed_by(&key, &issuer)?;
    write(&out.join("ca.pem"), &ca_pem, false)?;
    write(&out.join("cert.pem"), &cert.pem(), false)?;
    write(&out.join("key.pem"), &key.serialize_pem(), true)
}

/// Letters, digits, `-` and `.` (and a leading `*.`), 1 to 253 characters.
fn valid_dns_name(h: &str) -> bool {
    let body = h.strip_prefix("*.").unwrap_or(h);
    (1..=253).contains(&h.len())
        && !body.starts_with('.')
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}
