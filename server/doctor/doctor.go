// Package doctor finds out whether this host can grant portgate a
// privileged port: which mechanism of the operating system applies,
// whether the installed portgate-helper holds the right now, whether its
// policy and files are safe, and which commands fix each problem found.
//
// Every fact comes from a Host, so that tests replay command output and
// files recorded on each operating system.
package doctor

import (
	"context"
	"io/fs"
)

// Status is the outcome of one check.
type Status string

// The outcomes of a check. Only StatusProblem stops a grant.
const (
	StatusOK      Status = "ok"
	StatusProblem Status = "problem"
	StatusInfo    Status = "info"
)

// Check is one finding, with the commands that fix it when it is a problem.
type Check struct {
	Name   string   `json:"name"`
	Status Status   `json:"status"`
	Detail string   `json:"detail"`
	Fix    []string `json:"fix,omitempty"`
}

// Report is the result of Diagnose.
type Report struct {
	OS string `json:"os"`
	// Mechanism is how a privileged port is granted on this host:
	// "capability", "unprivileged-port-start", "privilege", "rbac",
	// "mac_portacl", "reservedhigh", "unprivileged-wildcard", or "none".
	Mechanism string `json:"mechanism"`
	// CanGrant is true only when a port below 1024 can really be granted
	// to the service account now.
	CanGrant bool    `json:"can_grant"`
	Helper   string  `json:"helper"`
	Policy   string  `json:"policy"`
	Account  string  `json:"account"`
	Checks   []Check `json:"checks"`
}

func (r *Report) add(c Check) { r.Checks = append(r.Checks, c) }

func (r *Report) problem(name, detail string, fix ...string) {
	r.add(Check{Name: name, Status: StatusProblem, Detail: detail, Fix: fix})
}

func (r *Report) ok(name, detail string) { r.add(Check{Name: name, Status: StatusOK, Detail: detail}) }

func (r *Report) info(name, detail string, fix ...string) {
	r.add(Check{Name: name, Status: StatusInfo, Detail: detail, Fix: fix})
}

// Problems returns the checks that found a problem.
func (r *Report) Problems() []Check {
	var out []Check
	for _, c := range r.Checks {
		if c.Status == StatusProblem {
			out = append(out, c)
		}
	}
	return out
}

// FileInfo is what doctor reads of a file's metadata.
type FileInfo struct {
	Mode     fs.FileMode
	UID, GID uint32
}

// Account is a user account and its primary group.
type Account struct {
	Name     string
	UID, GID uint32
	// Groups holds every group id of the account, the primary one first.
	Groups []uint32
}

// Output is the result of a command: its combined output and exit code.
type Output struct {
	Text string
	Exit int
}

// Host is every fact doctor reads about the system.
type Host interface {
	// Run runs a command and returns its output. The error is set only
	// when the command could not be started, such as when it is missing.
	Run(ctx context.Context, name string, args ...string) (Output, error)
	// RunAs is Run as the named account.
	RunAs(ctx context.Context, account *Account, name string, args ...string) (Output, error)
	ReadFile(path string) ([]byte, error)
	// Stat follows no symbolic link.
	Stat(path string) (FileInfo, error)
	// Getxattr returns the value of an extended attribute of path.
	Getxattr(path, attr string) ([]byte, error)
	LookupAccount(name string) (*Account, error)
	// Euid is the effective uid doctor runs as.
	Euid() int
}

// Options say what to check.
type Options struct {
	// GOOS is the operating system to diagnose, as runtime.GOOS names it.
	GOOS string
	// HelperPath is the installed portgate-helper.
	HelperPath string
	// PolicyPath is the policy the helper reads.
	PolicyPath string
	// Account is the service account that asks the helper for ports.
	Account string
	// SMFService is the Solaris service of the helper daemon.
	SMFService string
}

// DefaultSMFService is the FMRI of the helper daemon in the packaged SMF
// manifest.
const DefaultSMFService = "svc:/network/portgate-helper:default"

// Diagnose runs every check that applies to opts.GOOS.
func Diagnose(ctx context.Context, h Host, opts Options) *Report {
	if opts.SMFService == "" {
		opts.SMFService = DefaultSMFService
	}
	r := &Report{OS: opts.GOOS, Mechanism: "none", Helper: opts.HelperPath, Policy: opts.PolicyPath, Account: opts.Account}
	d := &diagnosis{ctx: ctx, host: h, opts: opts, report: r}
	d.checkAccount()
	d.checkHelperFile()
	d.checkPolicy()
	switch opts.GOOS {
	case "linux":
		d.linux()
	case "solaris", "illumos":
		d.solaris()
	case "aix":
		d.aix()
	case "freebsd":
		d.freebsd()
	case "darwin":
		d.darwin()
	default:
		r.problem("mechanism", opts.GOOS+" has no mechanism that grants one program the right to bind privileged ports",
			"forward the privileged port to an unprivileged one with the system's packet filter, and let portgate listen there (packaging/other/port-forwarding.md shows pf and npf rules)")
	}
	return r
}

// diagnosis carries the state of one Diagnose call.
type diagnosis struct {
	ctx     context.Context
	host    Host
	opts    Options
	report  *Report
	account *Account
	// ports are the ports below 1024 that the policy allows the account.
	ports []uint16
	// checkPort is the port portgate-helper check tests, one the policy
	// allows the account on loopback, or 0 for the check's default.
	checkPort uint16
	// policyOK is true when the helper would load the policy and it
	// allows the account a port below 1024.
	policyOK bool
}

// grant records that mechanism grants a privileged port, provided that
// the policy lets the helper grant one.
func (d *diagnosis) grant(mechanism string, needsPolicy bool) {
	d.report.Mechanism = mechanism
	d.report.CanGrant = d.policyOK || !needsPolicy
}
