package doctor

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteText writes r for a person: one line a check, each fix indented
// below its problem, and a verdict last.
func WriteText(w io.Writer, r *Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "os: %s\nhelper: %s\npolicy: %s\naccount: %s\n\n", r.OS, r.Helper, r.Policy, r.Account)
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "%-9s %s: %s\n", "["+string(c.Status)+"]", c.Name, c.Detail)
		for _, f := range c.Fix {
			fmt.Fprintf(&b, "          fix: %s\n", strings.ReplaceAll(f, "\n", "\n               "))
		}
	}
	fmt.Fprintf(&b, "\nmechanism: %s\n", r.Mechanism)
	if r.CanGrant {
		fmt.Fprintf(&b, "result: a port below 1024 can be granted to %s\n", r.Account)
	} else {
		fmt.Fprintf(&b, "result: no port below 1024 can be granted to %s: fix the problems above\n", r.Account)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes r as one indented JSON object.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
