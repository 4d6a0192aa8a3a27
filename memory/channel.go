package memory

// Channel is a way a customer and the organization reach each other. Besides
// the ones below, any lowercase name up to 32 bytes is a channel.
type Channel string

// Common channels.
const (
	ChannelEmail  Channel = "email"
	ChannelPhone  Channel = "phone"
	ChannelChat   Channel = "chat"
	ChannelWeb    Channel = "web"
	ChannelStore  Channel = "store" // a visit to a shop
	ChannelSMS    Channel = "sms"
	ChannelApp    Channel = "app"
	ChannelSocial Channel = "social"
	ChannelPost   Channel = "post"
)

func (c Channel) check(field string) error { return checkToken(field, string(c), 32) }
