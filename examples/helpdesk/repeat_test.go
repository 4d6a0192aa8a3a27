package main

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory"
)

func getView(t *testing.T, base string, id memory.CustomerID) view {
	t.Helper()
	resp, err := http.Get(base + "/api/customers/" + string(id))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var v view
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&v))
	return v
}

// TestRefundByEmailThenByPhoneIsOneIssue is the reported case: "Refund for
// order Z-77" by email, then by phone, from what were two records of one
// person, became two open issues after the merge, and only one escalated.
// Through the help desk's API: after the contact that proves both, one
// open issue with every contact, escalated; and "Undo merge" gives each
// record its own issue back.
func TestRefundByEmailThenByPhoneIsOneIssue(t *testing.T) {
	base := startDesk(t)
	var byMail, byPhone, both inboxItem
	require.Equal(t, 200, post(t, base+"/api/contacts",
		`{"channel":"email","from":[{"kind":"email","value":"jan@example.com","verified":true}],"subject":"Refund for order Z-77"}`, &byMail))
	require.Equal(t, 200, post(t, base+"/api/contacts",
		`{"channel":"phone","from":[{"kind":"phone","value":"+31 6 11112222","verified":true}],"subject":"Refund for order Z-77"}`, &byPhone))
	require.NotEqual(t, byMail.Customer, byPhone.Customer, "two records until something proves they are one")
	require.False(t, byPhone.Escalated)

	// The customer writes from both (a verified login with the phone on
	// file): the records merge, and the reply is about the one issue.
	require.Equal(t, 200, post(t, base+"/api/contacts",
		`{"channel":"chat","from":[{"kind":"email","value":"jan@example.com","verified":true},{"kind":"phone","value":"+31611112222","verified":true}],"subject":"Re: Refund for order Z-77"}`, &both))
	require.Equal(t, byMail.Customer, both.Customer)
	require.Equal(t, []memory.CustomerID{byPhone.Customer}, both.Merged)
	require.True(t, both.Escalated, "the inbox line says what the store says")

	v := getView(t, base, both.Customer)
	require.Len(t, v.Brief.OpenIssues, 1, "one issue, not two")
	require.Equal(t, 3, v.Brief.OpenIssues[0].Contacts)
	require.True(t, v.Brief.OpenIssues[0].Escalated)
	require.True(t, v.Brief.Escalate)

	// A different order stays its own issue.
	var other inboxItem
	require.Equal(t, 200, post(t, base+"/api/contacts",
		`{"channel":"email","from":[{"kind":"email","value":"jan@example.com","verified":true}],"subject":"Refund for order Z-78"}`, &other))
	require.False(t, other.Escalated)
	require.Len(t, getView(t, base, both.Customer).Brief.OpenIssues, 2)

	// Undo merge: the phone record gets its own issue back, one contact.
	var after view
	require.Equal(t, 200, post(t, base+"/api/customers/"+string(both.Customer)+"/unmerge",
		`{"absorbed":"`+string(byPhone.Customer)+`"}`, &after))
	phone := getView(t, base, byPhone.Customer)
	require.Len(t, phone.Brief.OpenIssues, 1)
	require.Equal(t, 1, phone.Brief.OpenIssues[0].Contacts)
	mail := getView(t, base, byMail.Customer)
	require.Len(t, mail.Brief.OpenIssues, 2)
	for _, is := range mail.Brief.OpenIssues {
		if is.Subject == "Refund for order Z-77" {
			require.Equal(t, 2, is.Contacts, "the email and the chat reply")
			require.True(t, is.Escalated)
		}
	}
}

// TestUndoMergeKeepsTheSecondContact is the other reported case: after
// "Undo merge", a customer who had written twice from the same verified
// email had one contact and no escalation on the issue.
func TestUndoMergeKeepsTheSecondContact(t *testing.T) {
	base := startDesk(t)
	var phone, first, both, second inboxItem
	require.Equal(t, 200, post(t, base+"/api/contacts",
		`{"channel":"phone","from":[{"kind":"phone","value":"+31 6 33334444","verified":true}],"subject":"Invoice address wrong"}`, &phone))
	require.Equal(t, 200, post(t, base+"/api/contacts",
		`{"channel":"email","from":[{"kind":"email","value":"kim@example.com","verified":true}],"subject":"Parcel did not arrive"}`, &first))
	require.Equal(t, 200, post(t, base+"/api/contacts",
		`{"channel":"chat","from":[{"kind":"email","value":"kim@example.com","verified":true},{"kind":"phone","value":"+31633334444","verified":true}],"subject":"Invoice address wrong"}`, &both))
	require.Equal(t, phone.Customer, both.Customer, "the older record survives")
	require.Equal(t, 200, post(t, base+"/api/contacts",
		`{"channel":"email","from":[{"kind":"email","value":"kim@example.com","verified":true}],"subject":"Parcel did not arrive"}`, &second))
	require.True(t, second.Escalated)

	var after view
	require.Equal(t, 200, post(t, base+"/api/customers/"+string(phone.Customer)+"/unmerge",
		`{"absorbed":"`+string(first.Customer)+`"}`, &after))
	v := getView(t, base, first.Customer)
	require.Len(t, v.Brief.OpenIssues, 1)
	require.Equal(t, "Parcel did not arrive", v.Brief.OpenIssues[0].Subject)
	require.Equal(t, 2, v.Brief.OpenIssues[0].Contacts, "both emails")
	require.True(t, v.Brief.OpenIssues[0].Escalated)
	require.True(t, v.Brief.Escalate)
	require.Len(t, v.Customer.Contacts, 2)

	p := getView(t, base, phone.Customer)
	require.Len(t, p.Brief.OpenIssues, 1)
	require.Equal(t, "Invoice address wrong", p.Brief.OpenIssues[0].Subject)
	require.Equal(t, 2, p.Brief.OpenIssues[0].Contacts, "the call and the chat")
}
