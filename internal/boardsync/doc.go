// Package boardsync keeps ERP records and objects in other systems in step.
//
// A Watcher captures changes of one Odoo model without any Odoo add-on: it
// polls search_read on write_date past its cursor (ordered by write_date,
// id) and commits the odoo.<model>.create|write events together with the
// advanced cursor in one transaction, so a crash neither loses nor
// duplicates a change; a periodic id sweep turns deletions into
// odoo.<model>.unlink events. Event keys are odoo.ChangeKey (record, kind of
// change, write_date to the second, hash of the values), the key the Odoo
// webhook receiver uses, so both paths dedupe against each other, and two
// changes within one second are two events.
//
// A Pair keeps the tasks of an Odoo project and the cards of a Focalboard
// board in step (see pair.go); every pairing is a store.SyncLink.
package boardsync
