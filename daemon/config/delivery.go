package config

// DeliveryStream is one entry of the `delivery_streams` section. The Firehose work owns
// this file and fills it in (source, processors, buffer, destination).
type DeliveryStream struct {
	Name string `yaml:"name"`
}
