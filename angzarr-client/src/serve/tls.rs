//! TLS for listeners: rustls with ring, the certificate chain and key read
//! from PEM, HTTP/2 agreed by ALPN.

use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

use super::ServeError;

/// A certificate chain and its private key, as given to `Server::tls`.
#[derive(Clone)]
pub(crate) struct Identity {
    pub(crate) certificate_pem: Vec<u8>,
    pub(crate) private_key_pem: Vec<u8>,
}

impl Identity {
    /// The acceptor every connection's handshake goes through; a PEM that
    /// holds no certificate or no key, or a key that does not match, is an
    /// error saying which.
    pub(crate) fn acceptor(&self) -> Result<TlsAcceptor, ServeError> {
        let tls = |reason: String| ServeError::Tls { reason };
        let chain = CertificateDer::pem_slice_iter(&self.certificate_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| tls(format!("the certificate PEM does not read: {error}")))?;
        if chain.is_empty() {
            return Err(tls("the certificate PEM holds no certificate".into()));
        }
        let key = PrivateKeyDer::from_pem_slice(&self.private_key_pem)
            .map_err(|error| tls(format!("the private key PEM holds no usable key: {error}")))?;
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|error| tls(error.to_string()))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|error| {
                tls(format!(
                    "the certificate and key do not go together: {error}"
                ))
            })?;
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(certificate_pem: &str, private_key_pem: &str) -> String {
        let identity = Identity {
            certificate_pem: certificate_pem.as_bytes().to_vec(),
            private_key_pem: private_key_pem.as_bytes().to_vec(),
        };
        match identity.acceptor() {
            Err(error) => error.to_string(),
            Ok(_) => panic!("accepted {certificate_pem:?}"),
        }
    }

    #[test]
    fn unusable_pem_is_refused_saying_which_part() {
        assert_eq!(
            refusal("", ""),
            "cannot serve TLS: the certificate PEM holds no certificate"
        );
        let certificate = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let no_key = refusal(certificate, "not a key");
        assert!(
            no_key.starts_with("cannot serve TLS: the private key PEM holds no usable key"),
            "{no_key}"
        );
    }
}
