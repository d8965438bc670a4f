package tlsconfig

import (
	"crypto/x509"
	"fmt"
)

// LoadPool reads a PEM bundle of CA certificates into a pool that holds
// only them: what a server trusts to sign its clients' certificates. A
// file with no certificate in it is an error, not an empty pool, so a
// wrong path or file is noticed at start instead of refusing every
// client.
func LoadPool(file string) (*x509.CertPool, error) {
	pemData, err := readFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemData) {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return pool, nil
}
