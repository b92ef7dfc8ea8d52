//! What H.264's picture timing SEI needs from the parameter sets: the fields of the
//! SPS's VUI (ITU-T H.264 §E.1.1) and HRD parameters (§E.1.2) that fix the layout
//! of `pic_timing()` (§D.1.3), which SPS a PPS refers to (§7.3.2.2), and which PPS a
//! picture's slices use (§7.3.3) — so that the SEI is read with the *active* SPS.

use crate::bits::BitReader;

/// The VUI fields that shape `pic_timing()` (§D.2.3), from one SPS.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpsTiming {
    pub seq_parameter_set_id: u8,
    /// `nal_hrd_parameters_present_flag`, `vcl_hrd_parameters_present_flag`: either
    /// makes `CpbDpbDelaysPresentFlag` 1 (§E.2.1).
    pub nal_hrd: bool,
    pub vcl_hrd: bool,
    /// From the NAL HRD parameters, or the VCL ones without NAL HRD (§E.2.2 has
    /// both equal when both are present).
    pub cpb_removal_delay_length_minus1: u8,
    pub dpb_output_delay_length_minus1: u8,
    pub time_offset_length: u8,
    pub pic_struct_present: bool,
    /// `timing_info_present_flag`'s `num_units_in_tick` and `time_scale` (§E.2.1),
    /// when present: a frame lasts 2 × num_units_in_tick / time_scale seconds.
    pub num_units_in_tick: Option<u32>,
    pub time_scale: Option<u32>,
}

impl SpsTiming {
    /// `CpbDpbDelaysPresentFlag`.
    pub fn cpb_dpb_delays_present(&self) -> bool {
        self.nal_hrd || self.vcl_hrd
    }
}

/// `seq_parameter_set_data()` (§7.3.2.1.1) up to and through the VUI fields above,
/// from an SPS RBSP without its NAL header byte. `None` if it ends early or a value
/// is out of its range.
pub fn parse_sps(rbsp: &[u8]) -> Option<SpsTiming> {
    let mut r = BitReader::new(rbsp);
    let profile_idc = r.u(8)?;
    r.skip(16)?; // constraint_set0..5_flag, reserved_zero_2bits, level_idc
    let id = r.ue()?;
    if id > 31 {
        return None;
    }
    if matches!(
        profile_idc,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    ) {
        let chroma_format_idc = r.ue()?;
        if chroma_format_idc == 3 {
            r.flag()?; // separate_colour_plane_flag
        }
        r.ue()?; // bit_depth_luma_minus8
        r.ue()?; // bit_depth_chroma_minus8
        r.flag()?; // qpprime_y_zero_transform_bypass_flag
        if r.flag()? {
            // seq_scaling_matrix_present_flag: scaling_list() (§7.3.2.1.1.1) for 6
            // 4x4 lists, then 2 (or 6 in 4:4:4) 8x8 lists.
            let lists = if chroma_format_idc == 3 { 12 } else { 8 };
            for i in 0..lists {
                if r.flag()? {
                    skip_scaling_list(&mut r, if i < 6 { 16 } else { 64 })?;
                }
            }
        }
    }
    r.ue()?; // log2_max_frame_num_minus4
    match r.ue()? {
        0 => {
            r.ue()?; // log2_max_pic_order_cnt_lsb_minus4
        }
        1 => {
            r.flag()?; // delta_pic_order_always_zero_flag
            r.se()?; // offset_for_non_ref_pic
            r.se()?; // offset_for_top_to_bottom_field
            let cycle = r.ue()?;
            if cycle > 255 {
                return None;
            }
            for _ in 0..cycle {
                r.se()?;
            }
        }
        _ => {}
    }
    r.ue()?; // max_num_ref_frames
    r.flag()?; // gaps_in_frame_num_value_allowed_flag
    r.ue()?; // pic_width_in_mbs_minus1
    r.ue()?; // pic_height_in_map_units_minus1
    if !r.flag()? {
        r.flag()?; // mb_adaptive_frame_field_flag (frame_mbs_only_flag was 0)
    }
    r.flag()?; // direct_8x8_inference_flag
    if r.flag()? {
        for _ in 0..4 {
            r.ue()?; // frame_crop_{left,right,top,bottom}_offset
        }
    }
    let mut sps = SpsTiming {
        seq_parameter_set_id: id as u8,
        ..SpsTiming::default()
    };
    if r.flag()? {
        vui(&mut r, &mut sps)?;
    }
    Some(sps)
}

/// `scaling_list()`: only the deltas are read, to stop where the list stops
/// (`nextScale` 0 ends it early).
fn skip_scaling_list(r: &mut BitReader<'_>, size: usize) -> Option<()> {
    let (mut last, mut next) = (8i64, 8i64);
    for _ in 0..size {
        if next != 0 {
            next = (last + r.se()?).rem_euclid(256);
        }
        if next != 0 {
            last = next;
        }
    }
    Some(())
}

/// `vui_parameters()` (§E.1.1) as far as `pic_struct_present_flag`.
fn vui(r: &mut BitReader<'_>, sps: &mut SpsTiming) -> Option<()> {
    if r.flag()? {
        // aspect_ratio_info_present_flag; Extended_SAR (255) adds sar_width/height.
        if r.u(8)? == 255 {
            r.skip(32)?;
        }
    }
    if r.flag()? {
        r.flag()?; // overscan_appropriate_flag
    }
    if r.flag()? {
        r.skip(4)?; // video_format, video_full_range_flag
        if r.flag()? {
            r.skip(24)?; // colour_primaries, transfer_characteristics, matrix_coefficients
        }
    }
    if r.flag()? {
        r.ue()?; // chroma_sample_loc_type_top_field
        r.ue()?; // chroma_sample_loc_type_bottom_field
    }
    if r.flag()? {
        sps.num_units_in_tick = Some(r.u(32)?);
        sps.time_scale = Some(r.u(32)?);
        r.flag()?; // fixed_frame_rate_flag
    }
    sps.nal_hrd = r.flag()?;
    if sps.nal_hrd {
        hrd(r, sps)?;
    }
    sps.vcl_hrd = r.flag()?;
    if sps.vcl_hrd {
        let mut vcl = *sps;
        hrd(r, &mut vcl)?;
        if !sps.nal_hrd {
            *sps = vcl;
        }
    }
    if sps.cpb_dpb_delays_present() {
        r.flag()?; // low_delay_hrd_flag
    }
    sps.pic_struct_present = r.flag()?;
    Some(())
}

/// `hrd_parameters()` (§E.1.2): the three lengths `pic_timing()` depends on.
fn hrd(r: &mut BitReader<'_>, sps: &mut SpsTiming) -> Option<()> {
    let cpb_cnt_minus1 = r.ue()?;
    if cpb_cnt_minus1 > 31 {
        return None;
    }
    r.skip(8)?; // bit_rate_scale, cpb_size_scale
    for _ in 0..=cpb_cnt_minus1 {
        r.ue()?; // bit_rate_value_minus1
        r.ue()?; // cpb_size_value_minus1
        r.flag()?; // cbr_flag
    }
    r.skip(5)?; // initial_cpb_removal_delay_length_minus1
    sps.cpb_removal_delay_length_minus1 = r.u(5)? as u8;
    sps.dpb_output_delay_length_minus1 = r.u(5)? as u8;
    sps.time_offset_length = r.u(5)? as u8;
    Some(())
}

/// `(pic_parameter_set_id, seq_parameter_set_id)` of a PPS RBSP (§7.3.2.2).
pub fn parse_pps_ids(rbsp: &[u8]) -> Option<(u8, u8)> {
    let mut r = BitReader::new(rbsp);
    let pps = r.ue()?;
    let sps = r.ue()?;
    (pps <= 255 && sps <= 31).then_some((pps as u8, sps as u8))
}

/// `pic_parameter_set_id` of a slice header (§7.3.3: after `first_mb_in_slice` and
/// `slice_type`), from the slice RBSP without its NAL header byte.
pub fn slice_pps_id(rbsp: &[u8]) -> Option<u8> {
    let mut r = BitReader::new(rbsp);
    r.ue()?;
    r.ue()?;
    u8::try_from(r.ue()?).ok()
}
