package rule

// KindApproval posts an approval request with Approve / Reject buttons
// (package chatops executes it and handles the clicks).
const KindApproval = "mattermost.approval"

func init() {
	// connector: the Mattermost connector; model + args[0]: the Odoo record;
	// method: what Approve calls (default button_approve).
	kindFields[KindApproval] = struct{ required, allowed []string }{
		[]string{"connector", "channel", "model", "args"}, []string{"text", "title", "method", "mention"}}
}
