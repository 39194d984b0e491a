package legacy

import (
	"errors"
	"strings"
	"testing"
)

// vectors are the specifications' or reference implementations' test vectors of each
// family, each with the source it comes from.
var vectors = []struct {
	name, family, pw, hash string
}{
	// The Argon2 reference implementation (phc-winner-argon2): its README's example, and
	// its CLI's output for the same input at 32 bytes.
	{"argon2i readme", "argon2i", "password", "$argon2i$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG"},
	{"argon2i cli", "argon2i", "password", "$argon2i$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$IMit9qkFULCMA/ViizL57cnTLOa5DiVM9eMwpAvPwr4"},
	{"argon2id cli", "argon2id", "password", "$argon2id$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo"},
	// OpenBSD / Openwall crypt_blowfish test vectors.
	{"bcrypt U*U", "bcrypt", "U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"},
	{"bcrypt U*U*", "bcrypt", "U*U*", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.VGOzA784oUp/Z0DY336zx7pLYAy0lwK"},
	{"bcrypt U*U*U", "bcrypt", "U*U*U", "$2a$05$XXXXXXXXXXXXXXXXXXXXXOAcXxm9kjPGEMsLznoKqmqw7tc8WCx4a"},
	{"bcrypt 72 bytes", "bcrypt", "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789chars after 72 are ignored", "$2a$05$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui"},
	{"bcrypt 2b", "bcrypt", "\xa3", "$2b$05$/OK.fbVrR/bpIqNJ5ianF.Sa7shbm4.OzKpvFnX1pQLmQW96oUlCq"},
	{"bcrypt 2y", "bcrypt", "\xa3", "$2y$05$/OK.fbVrR/bpIqNJ5ianF.Sa7shbm4.OzKpvFnX1pQLmQW96oUlCq"},
	{"bcrypt 2b ff ff a3", "bcrypt", "\xff\xff\xa3", "$2b$05$/OK.fbVrR/bpIqNJ5ianF.CE5elHaaO4EbggVDjb8P19RukzXSM3e"},
	// RFC 7914 §12's first scrypt vector that a login could afford (N=1024, r=8, p=16),
	// written in PHC form; and passlib's output.
	{"scrypt rfc7914", "scrypt", "password", "$scrypt$ln=10,r=8,p=16$TmFDbA$/bq+HJ00cgB4VucZDQHp/nxq18vII3gw53N2Y0s3MWIurzDZLiKjiG/xCSedmDDaxyevuUqD7m2DYMvfoswGQA"},
	{"scrypt passlib", "scrypt", "password", "$scrypt$ln=10,r=8,p=1$c2FsdHNhbHRzYWx0$PTOqBx7kez1QCW5+WP5c+ZGOujjGpyGOlh0Lrc56Tes"},
	// Firebase's scrypt: the firebase/scrypt README's example.
	{"firebase-scrypt readme", "firebase-scrypt", "user1password", `{"algorithm":"firebase-scrypt","hash":"lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==","salt":"42xEC+ixf3L2lw==","signer_key":"jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==","salt_separator":"Bw==","rounds":8,"mem_cost":14}`},
	// PBKDF2: RFC 6070 (HMAC-SHA-1: "password", "salt", 4096 iterations, 20 bytes) and
	// RFC 7914 §11 (HMAC-SHA-256: "passwd", "salt", 1 iteration, 64 bytes) in PHC form;
	// passlib's and Django's forms as passlib writes them.
	{"pbkdf2-sha1 rfc6070", "pbkdf2-sha1", "password", "$pbkdf2$i=4096,l=20$c2FsdA$SwB5AbdlSJq+rUnZJvch0GWkKcE"},
	{"pbkdf2-sha256 rfc7914", "pbkdf2-sha256", "passwd", "$pbkdf2-sha256$i=1,l=64$c2FsdA$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLxJypzM8Xm2RZkWZLOdd+8xfHG4RbHjC9UJESBB06GXgw"},
	{"pbkdf2-sha256 passlib", "pbkdf2-sha256", "password", "$pbkdf2-sha256$1000$c2FsdHNhbHRzYWx0$sYIePhT5IXESDKvnouJXtE5pTJ6Znbmef4vViYmc9Uc"},
	{"pbkdf2-sha1 passlib", "pbkdf2-sha1", "password", "$pbkdf2$1000$c2FsdHNhbHRzYWx0$IKT1k0J2W//Le5vD6JISfPblN/Q"},
	{"pbkdf2-sha512 passlib", "pbkdf2-sha512", "password", "$pbkdf2-sha512$1000$c2FsdHNhbHRzYWx0$qEWuBHP82uzPrybCUpp9FMGVDoszagDwOgBhAY44y2gPun4RFBM9zjAnhQjJRk.l/dEEhatLCI65Yj/OYq4dcQ"},
	{"pbkdf2-sha256 django", "pbkdf2-sha256", "password", "pbkdf2_sha256$1000$seasalt$YIWkt6M1JFXrHg5s0jZjBSc7C2Cz6QvchSJ0h8Y+i7c="},
	{"pbkdf2-sha1 django", "pbkdf2-sha1", "password", "pbkdf2_sha1$1000$seasalt$C8KvRfPW529R7JpDHEDOP35Xr0g="},
	// Django's argon2 and bcrypt hashers, as passlib writes their forms.
	{"argon2i django", "argon2i", "django password", "argon2$argon2i$v=19$m=1024,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$FUkKvt2l2p90q1HocsOfqQ"},
	{"bcrypt django", "bcrypt", "django password", "bcrypt$$2b$05$CCCCCCCCCCCCCCCCCCCCC.P.gVQcKDr2BThkjs0PsuTKSX9AvlinG"},
	// Drepper's "Unix crypt using SHA-256 and SHA-512": its test vectors.
	{"sha256-crypt 1", "sha256-crypt", "Hello world!", "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5"},
	{"sha256-crypt 2", "sha256-crypt", "Hello world!", "$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA"},
	{"sha256-crypt 3", "sha256-crypt", "This is just a test", "$5$rounds=5000$toolongsaltstrin$Un/5jzAHMgOGZ5.mWJpuVolil07guHPvOW8mGRcvxa5"},
	{"sha256-crypt 4", "sha256-crypt", "a very much longer text to encrypt.  This one even stretches over morethan one line.", "$5$rounds=1400$anotherlongsalts$Rx.j8H.h8HjEDGomFU8bDkXm3XIUnzyxf12oP84Bnq1"},
	{"sha256-crypt 5", "sha256-crypt", "we have a short salt string but not a short password", "$5$rounds=77777$short$JiO1O3ZpDAxGJeaDIuqCoEFysAe1mZNJRs3pw0KQRd/"},
	{"sha256-crypt 6", "sha256-crypt", "a short string", "$5$rounds=123456$asaltof16chars..$gP3VQ/6X7UUEW3HkBn2w1/Ptq2jxPyzV/cZKmF/wJvD"},
	{"sha256-crypt 7", "sha256-crypt", "the minimum number is still observed", "$5$rounds=1000$roundstoolow$yfvwcWrQ8l/K0DAWyuPMDNHpIVlTQebY9l/gL972bIC"},
	{"sha512-crypt 1", "sha512-crypt", "Hello world!", "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"},
	{"sha512-crypt 2", "sha512-crypt", "Hello world!", "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v."},
	{"sha512-crypt 4", "sha512-crypt", "a very much longer text to encrypt.  This one even stretches over morethan one line.", "$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1"},
	// md5-crypt as the FreeBSD reference (through glibc's port of it) writes it.
	{"md5-crypt 1", "md5-crypt", "password", "$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/"},
	{"md5-crypt empty salt", "md5-crypt", "", "$1$$qRPK7m23GJusamGpoGLby/"},
	{"md5-crypt 2", "md5-crypt", "0.s0.l33t", "$1$deadbeef$0Huu6KHrKLVWfqa4WljDE0"},
	// LDAP: RFC 2307 {SHA}, OpenLDAP's salted forms (base64 of digest ‖ salt), as passlib
	// writes them.
	{"ldap sha", "ldap-sha", "password", "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="},
	{"ldap ssha", "ldap-ssha", "password", "{SSHA}yI6cZwQadOA1e+/f+T+H3eCQQhRzYWx0"},
	{"ldap ssha256", "ldap-ssha256", "password", "{SSHA256}DIzeh0gCRMTRu9dAH3C3rr7fWkRT0Bp2ZdtRqvTX3XJzYWx0c2FsdA=="},
	{"ldap ssha512", "ldap-ssha512", "password", "{SSHA512}9ZxHVj4YomwqqFiYKcIjExMLx2ZblYfXRGc4KMqbgvHq2+HOgwiTIi+eO/Uam/8D0beDAkGpvx14+UFlfBskLnNhbHRzYWx0"},
	// Digests of "abc" (RFC 1321 appendix A.5; FIPS 180-4's examples), split into salt and
	// password both ways.
	{"md5 prefix", "md5", "bc", `{"algorithm":"md5","hash":"900150983cd24fb0d6963f7d28e17f72","salt":"61","salt_encoding":"hex","position":"prefix","encoding":"hex"}`},
	{"sha1 suffix", "sha1", "ab", `{"algorithm":"sha1","hash":"a9993e364706816aba3e25717850c26c9cd0d89d","salt":"c","salt_encoding":"utf8","position":"suffix","encoding":"hex"}`},
	{"sha256 base64", "sha256", "a", `{"algorithm":"sha256","hash":"ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=","salt":"YmM=","position":"suffix","encoding":"base64"}`},
	{"sha512 unsalted", "sha512", "abc", `{"algorithm":"sha512","hash":"ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f","encoding":"hex"}`},
	// HMAC: RFC 2202 and RFC 4231 test case 2 (key "Jefe"), the data split as salt ‖ password.
	{"hmac-md5 rfc2202", "hmac-md5", "want for nothing?", `{"algorithm":"hmac-md5","hash":"750c783e6ab0b503eaa86e310a5db738","salt":"what do ya ","salt_encoding":"utf8","position":"prefix","encoding":"hex","key":"SmVmZQ=="}`},
	{"hmac-sha1 rfc2202", "hmac-sha1", "what do ya want for nothing?", `{"algorithm":"hmac-sha1","hash":"effcdf6ae5eb2fa2d27416d5f184df9c259a7c79","encoding":"hex","key":"SmVmZQ=="}`},
	{"hmac-sha256 rfc4231", "hmac-sha256", "what do ya ", `{"algorithm":"hmac-sha256","hash":"5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843","salt":"want for nothing?","salt_encoding":"utf8","position":"suffix","encoding":"hex","key":"SmVmZQ=="}`},
	{"hmac-sha512 rfc4231", "hmac-sha512", "what do ya want for nothing?", `{"algorithm":"hmac-sha512","hash":"164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737","encoding":"hex","key":"SmVmZQ=="}`},
}

func TestVectors(t *testing.T) {
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			h, err := Parse(v.hash, DefaultLimits)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if h.Family() != v.family {
				t.Errorf("Family() = %q, want %q", h.Family(), v.family)
			}
			if !h.Verify([]byte(v.pw)) {
				t.Errorf("the vector's password does not verify")
			}
			wrong := []string{"x" + v.pw, strings.ToUpper(v.pw) + "!"}
			if len(v.pw) < 72 { // bcrypt reads only the first 72 bytes
				wrong = append(wrong, v.pw+"x")
			}
			for _, wrong := range wrong {
				if h.Verify([]byte(wrong)) {
					t.Errorf("wrong password %q verifies", wrong)
				}
			}
		})
	}
}

func TestVerifyString(t *testing.T) {
	ok, err := Verify("U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW")
	if !ok || err != nil {
		t.Errorf("Verify = %v, %v", ok, err)
	}
	if _, err := Verify("x", "plaintext"); !errors.Is(err, ErrUnknown) {
		t.Errorf("Verify of an unknown format: %v, want ErrUnknown", err)
	}
}

func TestLimits(t *testing.T) {
	tests := []struct{ name, hash string }{
		{"bcrypt cost 15", "$2b$15$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"},
		{"scrypt 512 MiB", "$scrypt$ln=19,r=8,p=1$c2FsdA$PTOqBx7kez1QCW5+WP5c+ZGOujjGpyGOlh0Lrc56Tes"},
		{"scrypt p 32", "$scrypt$ln=10,r=8,p=32$c2FsdA$PTOqBx7kez1QCW5+WP5c+ZGOujjGpyGOlh0Lrc56Tes"},
		{"firebase 512 MiB", `{"algorithm":"firebase-scrypt","hash":"AA==","salt":"AA==","signer_key":"AA==","salt_separator":"Bw==","rounds":8,"mem_cost":19}`},
		{"pbkdf2 10M+1", "$pbkdf2-sha256$10000001$c2FsdHNhbHRzYWx0$sYIePhT5IXESDKvnouJXtE5pTJ6Znbmef4vViYmc9Uc"},
		{"django pbkdf2 20M", "pbkdf2_sha256$20000000$seasalt$YIWkt6M1JFXrHg5s0jZjBSc7C2Cz6QvchSJ0h8Y+i7c="},
		{"argon2 512 MiB", "$argon2i$v=19$m=524288,t=2,p=4$c29tZXNhbHQ$IMit9qkFULCMA/ViizL57cnTLOa5DiVM9eMwpAvPwr4"},
		{"argon2 t 100", "$argon2id$v=19$m=65536,t=100,p=4$c29tZXNhbHQ$IMit9qkFULCMA/ViizL57cnTLOa5DiVM9eMwpAvPwr4"},
		{"sha512-crypt 2M rounds", "$6$rounds=2000000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse(tt.hash, DefaultLimits); !errors.Is(err, ErrLimit) {
				t.Errorf("Parse: %v, want ErrLimit", err)
			}
		})
	}
}

func TestMalformed(t *testing.T) {
	tests := []struct{ name, hash string }{
		{"argon2d", "$argon2d$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$7Kn6V2imUuaFkZmKdZLb3nvg91N5Lt7H"},
		{"argon2 v16", "$argon2i$v=16$m=65536,t=2,p=4$c29tZXNhbHQ$IMit9qkFULCMA/ViizL57cnTLOa5DiVM9eMwpAvPwr4"},
		{"argon2 no t", "$argon2i$v=19$m=65536,p=4$c29tZXNhbHQ$IMit9qkFULCMA/ViizL57cnTLOa5DiVM9eMwpAvPwr4"},
		{"bcrypt short", "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOe"},
		{"bcrypt 2x", "$2x$05$/OK.fbVrR/bpIqNJ5ianF.CE5elHaaO4EbggVDjb8P19RukzXSM3e"},
		{"scrypt missing p", "$scrypt$ln=10,r=8$c2FsdA$PTOqBx7kez1QCW5+WP5c+ZGOujjGpyGOlh0Lrc56Tes"},
		{"pbkdf2 md5", "$pbkdf2-md5$1000$c2FsdA$PTOqBx7kez1QCW5+WP5c+ZGOujjGpyGOlh0Lrc56Tes"},
		{"django bad base64", "pbkdf2_sha256$1000$seasalt$!!"},
		{"md5-crypt long salt", "$1$saltsaltsalt$qjXMvbEw8oaL.CzflDtaK/"},
		{"sha256-crypt short sum", "$5$saltstring$5B8vYYiY"},
		{"sha-crypt rounds 10", "$5$rounds=10$roundstoolow$yfvwcWrQ8l/K0DAWyuPMDNHpIVlTQebY9l/gL972bIC"},
		{"ssha short", "{SSHA}AAAA"},
		{"sha with salt", "{SHA}yI6cZwQadOA1e+/f+T+H3eCQQhRzYWx0"},
		{"object unknown field", `{"algorithm":"md5","hash":"900150983cd24fb0d6963f7d28e17f72","encoding":"hex","pepper":"x"}`},
		{"object md4", `{"algorithm":"md4","hash":"00","encoding":"hex"}`},
		{"object wrong length", `{"algorithm":"sha1","hash":"900150983cd24fb0d6963f7d28e17f72","encoding":"hex"}`},
		{"object salt without position", `{"algorithm":"md5","hash":"900150983cd24fb0d6963f7d28e17f72","salt":"61","encoding":"hex"}`},
		{"hmac without key", `{"algorithm":"hmac-sha256","hash":"5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843","encoding":"hex"}`},
		{"firebase lengths", `{"algorithm":"firebase-scrypt","hash":"AAAA","salt":"AA==","signer_key":"AA==","salt_separator":"Bw==","rounds":8,"mem_cost":14}`},
		{"unknown", "plaintext"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if h, err := Parse(tt.hash, DefaultLimits); err == nil {
				t.Errorf("Parse accepted it as %s", h.Family())
			} else if errors.Is(err, ErrLimit) {
				t.Errorf("Parse: %v, want a malformed error", err)
			}
		})
	}
}
