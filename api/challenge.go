package api

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/service"
)

// authorizeChallenge serves POST /authorize-challenge, the Authorization Challenge
// Endpoint of OAuth 2.0 for First-Party Applications (draft-ietf-oauth-first-party-apps
// §5): the client authenticates as at /token, and its password logins share the password
// grant's capacity check, throttles and failures.
func (s *Server) authorizeChallenge(c *gin.Context) {
	f, err := parseForm(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	initial := f.get("auth_session") == "" // an initial request verifies a password
	ca, err := s.authenticateLogin(c, f, initial)
	if err != nil {
		s.fail(c, err)
		return
	}
	if err := service.ChallengeAllowed(ca); err != nil {
		s.fail(c, err)
		return
	}
	r, err := challengeRequest(c, f, ca, initial)
	if err != nil {
		s.fail(c, err)
		return
	}
	resp, err := s.svc.AuthorizeChallenge(c, ca, r)
	s.answerLogin(c, resp, err, insufficientAuthorization)
}

// challengeRequest reads a challenge request's parameters (draft §5.1).
func challengeRequest(c *gin.Context, f form, ca db.ClientAuth, initial bool) (service.Challenge, error) {
	var r service.Challenge
	if rt := f.get("response_type"); rt != "code" {
		if rt == "" {
			return r, badRequest("response_type is required")
		}
		return r, &oauthError{Code: "unsupported_response_type", Status: http.StatusBadRequest, Desc: "response_type must be code"}
	}
	r.Login = service.PasswordLogin{Username: f.get("username"), Password: f.get("password"), Scope: f.get("scope"),
		Actor: actor(c, ca)}
	r.CodeChallenge, r.CodeChallengeMethod = f.get("code_challenge"), f.get("code_challenge_method")
	r.AuthSession, r.OTP, r.RecoveryCode = f.get("auth_session"), f.get("otp"), f.get("recovery_code")
	r.ACRValues = f.get("acr_values")
	if r.OTP != "" && r.RecoveryCode != "" {
		return r, badRequest("send otp or recovery_code, not both")
	}
	if !initial {
		return r, nil
	}
	if r.Login.Username == "" || r.Login.Password == "" {
		return r, badRequest("username and password are required without an auth_session")
	}
	if ca.Client.ForwardsUserIP && !ca.Client.Public {
		ip, err := forwardedUserIP(c)
		if err != nil {
			return r, err
		}
		r.Login.UserIP = ip
		if ip.IsValid() {
			c.Set("user_ip", ip.String())
		}
	}
	return r, nil
}

// insufficientAuthorization answers a request that needs a second factor (draft §5.2.2):
// the auth_session to continue with and what the user must do.
func insufficientAuthorization(c *gin.Context, e *service.MFARequiredError) {
	body := gin.H{"error": "insufficient_authorization", "auth_session": e.Token, "otp_required": true,
		"error_description": "a second factor is required: send the auth_session with otp or recovery_code"}
	if e.Enrollment {
		body["enrollment_required"] = true
		body["error_description"] = "a second factor is required and none is enrolled: enrol with the auth_session at /account/v1/mfa/totp"
	}
	c.AbortWithStatusJSON(http.StatusBadRequest, body)
}

// RFC 6749 §4.1.3 with RFC 7636 §4.5: redeeming a code of the challenge endpoint.
func (s *Server) codeGrant(c *gin.Context, f form, ca db.ClientAuth) (service.TokenResponse, error) {
	code := f.get("code")
	if code == "" {
		return service.TokenResponse{}, badRequest("code is required")
	}
	return s.svc.CodeGrant(c, ca, code, f.get("code_verifier"), actor(c, ca))
}
