package api

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/service"
)

// accountMFARoutes registers the self-service second-factor endpoints. The two of an
// enrolment also take the mfa_token of a login that answered enrollment_required.
func (s *Server) accountMFARoutes(g *gin.RouterGroup) {
	g.POST("/mfa/totp", s.account(true, []string{}, s.startTOTP))
	g.POST("/mfa/totp/confirm", s.account(true, []string{"otp"}, s.confirmTOTP))
	g.DELETE("/mfa/totp", s.account(false, []string{"otp"}, s.removeTOTP))
	g.POST("/mfa/recovery-codes", s.account(false, []string{"otp"}, s.regenerateRecoveryCodes))
}

// mfaJSON is a user's factors as the APIs show them.
type mfaJSON struct {
	TOTP              bool `json:"totp"`
	RecoveryCodesLeft int  `json:"recovery_codes_left"`
}

func factorsOut(st db.MFAState) mfaJSON {
	return mfaJSON{TOTP: st.TOTP, RecoveryCodesLeft: st.RecoveryCodes}
}

// requireOTP returns the body's otp, or a problem naming it.
func requireOTP(b accountBody) (string, error) {
	if b["otp"] == "" {
		return "", invalidField("otp", "is required")
	}
	return b["otp"], nil
}

// POST /account/v1/mfa/totp
func (s *Server) startTOTP(c *gin.Context, caller service.AccountCaller, _ accountBody) {
	en, err := s.svc.StartTOTP(c, caller)
	if err != nil {
		s.accountProblem(c, err)
		return
	}
	c.JSON(http.StatusCreated, en)
}

// POST /account/v1/mfa/totp/confirm
func (s *Server) confirmTOTP(c *gin.Context, caller service.AccountCaller, b accountBody) {
	otp, err := requireOTP(b)
	if err != nil {
		s.accountProblem(c, err)
		return
	}
	conf, err := s.svc.ConfirmTOTP(c, caller, otp)
	if err != nil {
		s.accountProblem(c, err)
		return
	}
	out := gin.H{"recovery_codes": conf.RecoveryCodes}
	if l := conf.Login; l != nil {
		out["access_token"], out["token_type"], out["expires_in"], out["scope"] = l.AccessToken, l.TokenType, l.ExpiresIn, l.Scope
		if l.RefreshToken != "" {
			out["refresh_token"] = l.RefreshToken
		}
	}
	if conf.AuthorizationCode != "" {
		out["authorization_code"] = conf.AuthorizationCode
	}
	c.JSON(http.StatusOK, out)
}

// DELETE /account/v1/mfa/totp
func (s *Server) removeTOTP(c *gin.Context, caller service.AccountCaller, b accountBody) {
	otp, err := requireOTP(b)
	if err == nil {
		err = s.svc.RemoveTOTP(c, caller, otp)
	}
	noContent(c, err, s.accountProblem)
}

// POST /account/v1/mfa/recovery-codes
func (s *Server) regenerateRecoveryCodes(c *gin.Context, caller service.AccountCaller, b accountBody) {
	otp, err := requireOTP(b)
	if err != nil {
		s.accountProblem(c, err)
		return
	}
	codes, err := s.svc.RegenerateRecoveryCodes(c, caller, otp)
	if err != nil {
		s.accountProblem(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"recovery_codes": codes})
}
