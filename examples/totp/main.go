// Command totp prints the current TOTP code (RFC 6238: SHA-1, 6 digits, 30 s) of a base32
// secret, as an authenticator app would: the README's stand-in for oathtool.
//
//	go run ./examples/totp "$SECRET"
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: totp BASE32SECRET")
		os.Exit(2)
	}
	code, err := totp.GenerateCodeCustom(os.Args[1], time.Now(),
		totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		fmt.Fprintln(os.Stderr, "totp:", err)
		os.Exit(1)
	}
	fmt.Println(code)
}
