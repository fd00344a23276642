package checks

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/google/go-github/v60/github"
)

// RequestsPrivateImages is Requests for a hoist whose own public URL is on
// a private or loopback address: a GitHub Enterprise Server on the same
// network, or the emulator in tests and demos, fetches images from there.
// Image URLs must still be absolute http(s) URLs without credentials;
// everything else is checked as Requests does.
func (o Output) RequestsPrivateImages(detailsURL string) ([]*github.CheckRunOutput, error) {
	fit := o.Fit(detailsURL)
	var errs []error
	for i, img := range fit.Images {
		u, err := url.Parse(img.ImageURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			errs = append(errs, fmt.Errorf("check output: image %d (%q): want an absolute http(s) URL without credentials", i+1, img.ImageURL))
		}
	}
	images := fit.Images
	fit.Images = nil
	for i, img := range images {
		// Validate everything but the host of each image.
		probe := fit
		probe.Images = []Image{{Alt: img.Alt, ImageURL: "https://example.com/", Caption: img.Caption}}
		if err := probe.Validate(); err != nil && len(errs) == 0 {
			errs = append(errs, fmt.Errorf("image %d: %w", i+1, err))
		}
	}
	if err := fit.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	fit.Images = images
	batches := AnnotationBatches(fit.Annotations)
	if len(batches) == 0 {
		batches = [][]Annotation{nil}
	}
	out := make([]*github.CheckRunOutput, len(batches))
	for i, batch := range batches {
		out[i] = fit.github(batch)
	}
	return out, nil
}
