// Package report holds the JSON lines that the pgclient test tool prints
// and the end-to-end tests read, so both sides share one definition.
package report

// Result is one acquisition attempt.
type Result struct {
	Endpoints  []string `json:"endpoints"`
	OK         bool     `json:"ok"`
	Error      string   `json:"error,omitempty"`
	Code       uint16   `json:"code,omitempty"`
	Local      []string `json:"local,omitempty"`
	FromHelper []bool   `json:"from_helper,omitempty"`
	HelperPID  int      `json:"helper_pid"`
	OpenFDs    int      `json:"open_fds"`
	Echo       string   `json:"echo,omitempty"`
}

// Churn summarizes pgclient -repeat: grants, failures and their codes.
type Churn struct {
	Granted int            `json:"granted"`
	Failed  int            `json:"failed"`
	Codes   map[uint16]int `json:"codes"`
	Error   string         `json:"error,omitempty"`
	OpenFDs int            `json:"open_fds"`
}
