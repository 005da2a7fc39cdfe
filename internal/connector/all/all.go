// Package all registers every connector type; import it for its side
// effect where connectors are built from configuration.
package all

import (
	_ "github.com/insightpulseai/ipai/internal/connector/focalboard" // register
	_ "github.com/insightpulseai/ipai/internal/connector/httpcheck"  // register
	_ "github.com/insightpulseai/ipai/internal/connector/keycloak"   // register
	_ "github.com/insightpulseai/ipai/internal/connector/mattermost" // register
	_ "github.com/insightpulseai/ipai/internal/connector/n8n"        // register
	_ "github.com/insightpulseai/ipai/internal/connector/odoo"       // register
	_ "github.com/insightpulseai/ipai/internal/connector/supabase"   // register
	_ "github.com/insightpulseai/ipai/internal/connector/superset"   // register
)
