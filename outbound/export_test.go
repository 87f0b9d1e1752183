package outbound

// DefaultLimits are the lanes New fills in, for the tests of package
// outbound_test that compute what the limits allow.
var DefaultLimits = defaultLimits()
