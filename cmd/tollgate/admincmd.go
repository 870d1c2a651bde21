package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tollgate-gw/tollgate/store"
	"golang.org/x/term"
)

// adminPasswordEnv names the variable a password may come from, for scripts; a file
// (--password-file) or the prompt are preferred, since variables leak into logs.
const adminPasswordEnv = "TOLLGATE_ADMIN_PASSWORD" // #nosec G101 -- the variable's name, not a password

// adminStdin is where the password prompt reads; tests replace it.
var adminStdin io.Reader = os.Stdin

const adminUsage = `Usage: tollgate admin <command> [flags]

Dashboard users (the people who sign in under /admin/):
  create   --email E [--password-file F]   add a user
  passwd   --email E [--password-file F]   set a user's password (signs it out everywhere)
  delete   --email E                       remove a user
  list                                     list users

The password comes from --password-file, else $TOLLGATE_ADMIN_PASSWORD, else a prompt
on the terminal. Store flags as for serve (--data-dir, --database-url, ...).
`

// adminCmd runs `tollgate admin …`, which manages dashboard users.
func adminCmd(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprint(stderr, adminUsage)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return nil
		}
		return errUsage
	}
	sub, args := args[0], args[1:]
	own := flag.NewFlagSet("tollgate admin "+sub, flag.ContinueOnError)
	email := own.String("email", "", "the user's email address")
	passwordFile := own.String("password-file", "", "read the password from this file (its first line)")
	cfg, _, err := parseOps("admin "+sub, "admin "+sub+" [flags]", own, args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return errUsage
	}
	switch sub {
	case "create", "passwd", "delete":
		if strings.TrimSpace(*email) == "" {
			return opsUsageError(own, stderr, "--email is required")
		}
	case "list":
	default:
		fmt.Fprintf(stderr, "tollgate admin: unknown command %q\n\n%s", sub, adminUsage)
		return errUsage
	}
	ctx := context.Background()
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	switch sub {
	case "list":
		return adminList(ctx, st, stdout)
	case "delete":
		if err := st.DeleteAdminUser(ctx, *email); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "deleted dashboard user %s and signed it out\n", strings.ToLower(strings.TrimSpace(*email)))
		return nil
	}
	password, err := readAdminPassword(*passwordFile, getenv, stderr)
	if err != nil {
		return err
	}
	if sub == "passwd" {
		if err := st.SetAdminPassword(ctx, *email, password); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "password of %s changed; its sessions ended\n", strings.ToLower(strings.TrimSpace(*email)))
		return nil
	}
	u, err := st.CreateAdminUser(ctx, *email, password)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created dashboard user %s; sign in at /admin/\n", u.Email)
	return nil
}

// readAdminPassword takes the password from a file, the environment or a prompt,
// and checks it against the store's rules before anything is written.
func readAdminPassword(file string, getenv func(string) string, stderr io.Writer) (string, error) {
	var password string
	switch {
	case file != "":
		b, err := os.ReadFile(file) // #nosec G304 G703 -- the file the operator named with --password-file
		if err != nil {
			return "", fmt.Errorf("--password-file: %w", err)
		}
		password, _, _ = strings.Cut(string(b), "\n")
		password = strings.TrimRight(password, "\r")
	case getenv(adminPasswordEnv) != "":
		password = getenv(adminPasswordEnv)
	default:
		p, err := promptPassword(stderr)
		if err != nil {
			return "", err
		}
		password = p
	}
	if err := store.CheckPassword(password); err != nil {
		return "", err
	}
	return password, nil
}

// promptPassword asks twice on a terminal (without echo), or reads one line from a
// pipe.
func promptPassword(stderr io.Writer) (string, error) {
	if f, ok := adminStdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		read := func(prompt string) (string, error) {
			fmt.Fprint(stderr, prompt)
			b, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(stderr)
			return string(b), err
		}
		first, err := read("Password: ")
		if err != nil {
			return "", err
		}
		again, err := read("Repeat it: ")
		if err != nil {
			return "", err
		}
		if first != again {
			return "", errors.New("the two passwords differ")
		}
		return first, nil
	}
	line, err := bufio.NewReader(adminStdin).ReadString('\n')
	if err != nil && (err != io.EOF || line == "") {
		return "", fmt.Errorf("no password: give --password-file, set %s, or type it at the prompt", adminPasswordEnv)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func adminList(ctx context.Context, st *store.Store, stdout io.Writer) error {
	us, err := st.AdminUsers(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EMAIL\tCREATED\tLAST_SIGN_IN")
	for _, u := range us {
		last := "never"
		if u.LastLoginAt != 0 {
			last = store.Millis(u.LastLoginAt).Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", u.Email, store.Millis(u.CreatedAt).Format(time.RFC3339), last)
	}
	return tw.Flush()
}
