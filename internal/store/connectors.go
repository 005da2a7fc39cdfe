package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Connector is a configured service as stored. Secrets holds sealed values
// only (name → sealed, see package secret); Settings the type's own fields.
type Connector struct {
	Code          string
	Name          string
	Type          string
	BaseURL       string
	APIVersion    string
	AuthType      string
	Settings      map[string]string
	Secrets       map[string]string // sealed
	State         string
	LastPing      time.Time
	LastError     string
	LastLatencyMS int64
	Version       string
	Managed       bool
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// ConnectorCheck is one health check result kept in the history.
type ConnectorCheck struct {
	Code      string
	At        time.Time
	OK        bool
	LatencyMS int64
	Version   string
	Error     string
}

const connectorCols = "code, name, type, base_url, api_version, auth_type, settings, secrets, state, last_ping, last_error, last_latency_ms, version, managed, created_at, updated_at"

func scanConnector(s scanner) (Connector, error) {
	var c Connector
	var settings, secrets string
	var ping, created, updated int64
	err := s.Scan(&c.Code, &c.Name, &c.Type, &c.BaseURL, &c.APIVersion, &c.AuthType, &settings, &secrets, &c.State,
		&ping, &c.LastError, &c.LastLatencyMS, &c.Version, &c.Managed, &created, &updated)
	if err != nil {
		return c, err
	}
	c.LastPing, c.CreatedAt, c.UpdatedAt = Time(ping), Time(created), Time(updated)
	if err := json.Unmarshal([]byte(settings), &c.Settings); err != nil {
		return c, fmt.Errorf("connector %s: settings: %w", c.Code, err)
	}
	if err := json.Unmarshal([]byte(secrets), &c.Secrets); err != nil {
		return c, fmt.Errorf("connector %s: secrets: %w", c.Code, err)
	}
	if c.Settings == nil {
		c.Settings = map[string]string{}
	}
	if c.Secrets == nil {
		c.Secrets = map[string]string{}
	}
	return c, nil
}

func jsonMap(m map[string]string) string {
	if len(m) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(m) // map[string]string always marshals
	return string(b)
}

// CreateConnector stores a new connector; ErrConflict when the code exists.
func (db *DB) CreateConnector(ctx context.Context, c Connector) error {
	_, err := db.Exec(ctx, "INSERT INTO connectors ("+connectorCols+") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
		c.Code, c.Name, c.Type, c.BaseURL, c.APIVersion, c.AuthType, jsonMap(c.Settings), jsonMap(c.Secrets), c.State,
		Micros(c.LastPing), c.LastError, c.LastLatencyMS, c.Version, c.Managed, Micros(c.CreatedAt), Micros(c.UpdatedAt))
	return err
}

// UpdateConnector rewrites a connector's row (everything but code and
// created_at); ErrNotFound when missing.
func (db *DB) UpdateConnector(ctx context.Context, c Connector) error {
	res, err := db.Exec(ctx, `UPDATE connectors SET name=?, type=?, base_url=?, api_version=?, auth_type=?, settings=?, secrets=?,
		state=?, last_ping=?, last_error=?, last_latency_ms=?, version=?, managed=?, updated_at=? WHERE code=?`,
		c.Name, c.Type, c.BaseURL, c.APIVersion, c.AuthType, jsonMap(c.Settings), jsonMap(c.Secrets), c.State,
		Micros(c.LastPing), c.LastError, c.LastLatencyMS, c.Version, c.Managed, Micros(c.UpdatedAt), c.Code)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// Connector returns one connector by code.
func (db *DB) Connector(ctx context.Context, code string) (Connector, error) {
	return scanConnector(db.QueryRow(ctx, "SELECT "+connectorCols+" FROM connectors WHERE code = ?", code))
}

// ListConnectors returns the connectors in a state ("" for all), by code.
func (db *DB) ListConnectors(ctx context.Context, state string) ([]Connector, error) {
	q, args := "SELECT "+connectorCols+" FROM connectors", []any{}
	if state != "" {
		q += " WHERE state = ?"
		args = append(args, state)
	}
	rows, err := db.Query(ctx, q+" ORDER BY code", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Connector{}
	for rows.Next() {
		c, err := scanConnector(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// DeleteConnector removes a connector and its check history; ErrNotFound
// when missing.
func (db *DB) DeleteConnector(ctx context.Context, code string) error {
	return db.InTx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, "DELETE FROM connectors WHERE code = ?", code)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		_, err = tx.Exec(ctx, "DELETE FROM connector_checks WHERE code = ?", code)
		return err
	})
}

// RecordConnectorTest saves a Test Connection's outcome: the new state and
// the last ping, error, latency and (when reported) version.
func (db *DB) RecordConnectorTest(ctx context.Context, code, state string, at time.Time, lastError string, latencyMS int64, version string) error {
	res, err := db.Exec(ctx, `UPDATE connectors SET state=?, last_ping=?, last_error=?, last_latency_ms=?,
		version = CASE WHEN ? = '' THEN version ELSE ? END, updated_at=? WHERE code=?`,
		state, Micros(at), lastError, latencyMS, version, version, Micros(at), code)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// TransitionConnector moves a connector from state from to state to. It
// returns ErrNotFound when there is no such connector and ErrConflict
// (naming the current state) when it is not in state from.
func (db *DB) TransitionConnector(ctx context.Context, code, from, to string, at time.Time) error {
	res, err := db.Exec(ctx, "UPDATE connectors SET state = ?, updated_at = ? WHERE code = ? AND state = ?",
		to, Micros(at), code, from)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return nil
	}
	var cur string
	if err := db.QueryRow(ctx, "SELECT state FROM connectors WHERE code = ?", code).Scan(&cur); err != nil {
		return err
	}
	return fmt.Errorf("%w: connector %s is %s, not %s", ErrConflict, code, cur, from)
}

// AddConnectorCheck appends a health check result (and updates the
// connector's last ping, error, latency and version, not its state), keeping
// the newest keep results of that connector.
func (db *DB) AddConnectorCheck(ctx context.Context, c ConnectorCheck, keep int) error {
	return db.InTx(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO connector_checks (code, at, ok, latency_ms, version, error) VALUES (?,?,?,?,?,?)",
			c.Code, Micros(c.At), c.OK, c.LatencyMS, c.Version, c.Error); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE connectors SET last_ping=?, last_error=?, last_latency_ms=?,
			version = CASE WHEN ? = '' THEN version ELSE ? END WHERE code=?`,
			Micros(c.At), c.Error, c.LatencyMS, c.Version, c.Version, c.Code); err != nil {
			return err
		}
		if keep <= 0 {
			return nil
		}
		_, err := tx.Exec(ctx, `DELETE FROM connector_checks WHERE code = ? AND at <
			(SELECT at FROM connector_checks WHERE code = ? ORDER BY at DESC LIMIT 1 OFFSET ?)`, c.Code, c.Code, keep-1)
		return err
	})
}

// ConnectorChecks returns a connector's newest limit results, oldest first.
func (db *DB) ConnectorChecks(ctx context.Context, code string, limit int) ([]ConnectorCheck, error) {
	rows, err := db.Query(ctx, "SELECT code, at, ok, latency_ms, version, error FROM connector_checks WHERE code = ? ORDER BY at DESC LIMIT ?",
		code, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ConnectorCheck
	for rows.Next() {
		var c ConnectorCheck
		var at int64
		if err := rows.Scan(&c.Code, &at, &c.OK, &c.LatencyMS, &c.Version, &c.Error); err != nil {
			return nil, err
		}
		c.At = Time(at)
		out = append(out, c)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, rows.Err()
}
