package api

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/service"
)

// mfaGrant serves the mfa-otp and mfa-recovery-code grants (and their Auth0 aliases):
// the second step of a password login that answered mfa_required.
func (s *Server) mfaGrant(c *gin.Context, f form, ca db.ClientAuth, grant string) (service.TokenResponse, error) {
	g := service.MFAGrant{MFAToken: f.get("mfa_token"), Actor: actor(c, ca)}
	if g.MFAToken == "" {
		return service.TokenResponse{}, badRequest("mfa_token is required")
	}
	switch grant {
	case service.GrantMFAOTP, service.GrantAuth0MFAOTP:
		if g.OTP = f.get("otp"); g.OTP == "" {
			return service.TokenResponse{}, badRequest("otp is required")
		}
	default:
		if g.RecoveryCode = f.get("recovery_code"); g.RecoveryCode == "" {
			return service.TokenResponse{}, badRequest("recovery_code is required")
		}
	}
	return s.svc.MFAGrant(c, ca, g)
}

// mfaRequired answers a correct password that needs a second factor: 403, as Auth0 does,
// rather than RFC 6749 §5.2's 400 (docs/SECURITY.md), with the mfa_token to continue.
func mfaRequired(c *gin.Context, e *service.MFARequiredError) {
	body := gin.H{"error": "mfa_required", "mfa_token": e.Token,
		"error_description": "a second factor is required: send the mfa_token with a code"}
	if e.Enrollment {
		body["enrollment_required"] = true
		body["error_description"] = "a second factor is required and none is enrolled: enrol with the mfa_token at /account/v1/mfa/totp"
	}
	c.AbortWithStatusJSON(http.StatusForbidden, body)
}

// answerLogin writes the outcome of a login step: resp, or the second factor it still
// needs as needFactor words that (the token and the challenge endpoints each their way),
// or the error.
func (s *Server) answerLogin(c *gin.Context, resp any, err error, needFactor func(*gin.Context, *service.MFARequiredError)) {
	var mfa *service.MFARequiredError
	if errors.As(err, &mfa) {
		needFactor(c, mfa)
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, resp)
}

// isMFAGrant reports whether grant is one of the second-factor grants.
func isMFAGrant(grant string) bool {
	switch grant {
	case service.GrantMFAOTP, service.GrantAuth0MFAOTP, service.GrantMFARecoveryCode, service.GrantAuth0MFARecoveryCode:
		return true
	}
	return false
}
