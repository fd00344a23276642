package gh

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
)

// CheckPrivateKey reports whether pemBytes holds an RSA private key, so a
// wrong key stops the start instead of failing the first API call.
func CheckPrivateKey(pemBytes []byte) error {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return errors.New("not a PEM private key")
	}
	if _, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return errors.New("not an RSA private key in PKCS#1 or PKCS#8 form")
	}
	if _, ok := k.(*rsa.PrivateKey); !ok {
		return errors.New("the private key is not RSA; GitHub App keys are RSA")
	}
	return nil
}
