package tlsconf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// NewCA makes a self-signed ECDSA P-256 certificate authority valid from
// notBefore to notAfter, returned as PEM.
func NewCA(cn string, notBefore, notAfter time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	return encode(der, key)
}

// IssueCert makes a certificate for subject signed by the CA, usable by a
// server for hosts (DNS names or IP addresses) and by a client. It returns
// the certificate and its key as PEM.
func IssueCert(caCertPEM, caKeyPEM []byte, subject pkix.Name, hosts []string, notBefore, notAfter time.Time) (certPEM, keyPEM []byte, err error) {
	caBlock, _ := pem.Decode(caCertPEM)
	keyBlock, _ := pem.Decode(caKeyPEM)
	if caBlock == nil || keyBlock == nil {
		return nil, nil, errors.New("tlsconf: the CA certificate or key is not PEM")
	}
	ca, err := x509.ParseCertificate(caBlock.Bytes)
	if err != nil {
		return nil, nil, err
	}
	caKey, err := x509.ParseECPrivateKey(keyBlock.Bytes)
	if err != nil {
		return nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      subject,
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, err
	}
	return encode(der, key)
}

// DevCerts writes a development CA and certificates into dir: ca.pem and
// ca-key.pem; server.pem (certificate and key, an ssl.keystore.location)
// for hosts; and client-NAME.pem (CN=NAME) for each of clients. Keys are
// written 0600. It returns the paths written.
func DevCerts(dir string, hosts, clients []string, valid time.Duration) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	now := time.Now().Add(-time.Minute)
	caCert, caKey, err := NewCA("Samsa development CA", now, now.Add(valid))
	if err != nil {
		return nil, err
	}
	files := []devFile{{"ca.pem", caCert, 0o644}, {"ca-key.pem", caKey, 0o600}}
	cert, key, err := IssueCert(caCert, caKey, pkix.Name{CommonName: "samsa"}, hosts, now, now.Add(valid))
	if err != nil {
		return nil, err
	}
	files = append(files, devFile{"server.pem", append(cert, key...), 0o600})
	for _, c := range clients {
		if c == "" || filepath.Base(c) != c {
			return nil, fmt.Errorf("tlsconf: client name %q is not a plain name", c)
		}
		cert, key, err := IssueCert(caCert, caKey, pkix.Name{CommonName: c}, nil, now, now.Add(valid))
		if err != nil {
			return nil, err
		}
		files = append(files, devFile{"client-" + c + ".pem", append(cert, key...), 0o600})
	}
	var paths []string
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err := os.WriteFile(p, f.data, f.mode); err != nil {
			return paths, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// devFile is one file DevCerts writes.
type devFile struct {
	name string
	data []byte
	mode os.FileMode
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return n
}

func encode(der []byte, key *ecdsa.PrivateKey) (certPEM, keyPEM []byte, err error) {
	k, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: k}), nil
}
