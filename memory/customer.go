package memory

// CustomerID names one customer in a store. It is random, holds no
// personal data, and stays valid after the customer is merged into another:
// calls given a merged customer's ID act on the customer it was merged into.
type CustomerID string

const customerIDLen = 26

func (id CustomerID) check() error {
	if len(id) != customerIDLen {
		return invalid("customer id", "not a customer id")
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return invalid("customer id", "not a customer id")
		}
	}
	return nil
}
