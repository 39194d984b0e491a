package service

// breachList is the breached-password filter new passwords are checked against
// (breach.List, reloaded on SIGHUP); without one only the shipped common list applies.
type breachList interface {
	Contains(pw string) bool
}

// WithBreachList checks every new password against l and, with
// Config.BreachCheckLogin, every correct password at login.
func WithBreachList(l breachList) Option { return func(s *Service) { s.breached = l } }

// isBreached reports whether pw is on the breached list, when there is one.
func (s *Service) isBreached(pw string) bool { return s.breached != nil && s.breached.Contains(pw) }
