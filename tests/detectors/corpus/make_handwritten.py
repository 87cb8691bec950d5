# Hand-written labelled records: (text, [(value, TYPE), ...]); offsets computed by search.
import json
import sys

R = [
    ("患者李秀英，女，63岁，因反复胸闷3年加重1周入院。", [("李秀英", "PERSON_NAME"), ("胸闷", "DIAGNOSIS")]),
    (
        "主诉：咳嗽咳痰2周。既往2型糖尿病病史10年，长期口服二甲双胍0.5g bid。",
        [("咳嗽", "DIAGNOSIS"), ("2型糖尿病", "DIAGNOSIS"), ("二甲双胍", "DRUG")],
    ),
    (
        "入院诊断：1.社区获得性肺炎 2.原发性高血压3级（极高危）",
        [("社区获得性肺炎", "DIAGNOSIS"), ("原发性高血压", "DIAGNOSIS")],
    ),
    ("出院带药：阿托伐他汀钙片 20mg qn，氯吡格雷 75mg qd。", [("阿托伐他汀钙片", "DRUG"), ("氯吡格雷", "DRUG")]),
    ("HIV抗体初筛阳性，已送疾控中心确证。", [("HIV", "SPECIAL_DISEASE")]),
    ("病理诊断：（左乳）浸润性导管癌，II级。", [("浸润性导管癌", "SPECIAL_DISEASE")]),
    ("患者既往有抑郁症病史，长期服用舍曲林。", [("抑郁症", "SPECIAL_DISEASE"), ("舍曲林", "DRUG")]),
    ("联系人：王建军（患者之子），电话 13912345678", [("王建军", "PERSON_NAME"), ("13912345678", "PHONE_NUMBER")]),
    ("身份证：44030419900307123X 请核对", [("44030419900307123X", "CN_RESIDENT_ID")]),
    ("证件号码 440304199003071238 校验不通过", []),
    ("订单号 440304199003071231 已支付", []),
    ("快递单号 SF1234567890123 已签收", []),
    ("请于2023年11月25日上午8点到门诊三楼抽血。", []),
    ("医院地址：广州市越秀区中山二路58号", [("广州市越秀区中山二路58号", "ADDRESS")]),
    ("现住址：江苏省苏州市工业园区星湖街328号", [("江苏省苏州市工业园区星湖街328号", "ADDRESS")]),
    ("籍贯：湖南省长沙市", [("湖南省长沙市", "ADDRESS")]),
    ("患者住在上海市徐汇区漕溪北路", [("上海市徐汇区漕溪北路", "ADDRESS")]),
    ("出生日期：1958年3月2日，年龄65岁", [("1958年3月2日", "DATE_OF_BIRTH")]),
    ("生日 1990/07/15", [("1990/07/15", "DATE_OF_BIRTH")]),
    ("门诊号：MZ20231125001，就诊科室：内分泌科", [("MZ20231125001", "MEDICAL_RECORD_NUMBER")]),
    ("病案号 00876543", [("00876543", "MEDICAL_RECORD_NUMBER")]),
    ("医保个人编号：440300123456789", [("440300123456789", "MEDICAL_INSURANCE_NUMBER")]),
    ("社保卡号 D12345678", [("D12345678", "MEDICAL_INSURANCE_NUMBER")]),
    (
        "血常规：白细胞 12.5×10^9/L，血红蛋白 98 g/L，血小板 210×10^9/L",
        [("白细胞 12.5×10^9/L", "LAB_RESULT"), ("血红蛋白 98 g/L", "LAB_RESULT"), ("血小板 210×10^9/L", "LAB_RESULT")],
    ),
    (
        "空腹血糖 8.9 mmol/L ↑，糖化血红蛋白 7.8%",
        [("空腹血糖 8.9 mmol/L ↑", "LAB_RESULT"), ("糖化血红蛋白 7.8%", "LAB_RESULT")],
    ),
    (
        "乙肝表面抗原（HBsAg）阳性，乙肝DNA定量 2.3×10^5 IU/mL",
        [("乙肝", "SPECIAL_DISEASE"), ("HBsAg", "SPECIAL_DISEASE"), ("乙肝", "SPECIAL_DISEASE")],
    ),
    ("基因检测提示EGFR 19外显子缺失，L858R未检出，T790M c.2369C>T 阴性", [("c.2369C>T", "GENETIC_DATA")]),
    ("APOE 基因型检测：rs429358 C/T，rs7412 C/C", [("rs429358", "GENETIC_DATA"), ("rs7412", "GENETIC_DATA")]),
    ("测序片段：GATTACAGATTACAGGCTTAACGT", [("GATTACAGATTACAGGCTTAACGT", "GENETIC_DATA")]),
    ("手环设备号 IMEI 867530012345672 已与患者账号绑定", [("867530012345672", "DEVICE_ID")]),
    ("香港身份证 K123456(3) 持有人", []),
    ("香港居民 张先生，香港身份证号 A123456(3)", [("A123456(3)", "HK_MACAU_TW_ID")]),
    ("台胞证号码 12345678，身分證字號 F131104093", [("12345678", "HK_MACAU_TW_ID"), ("F131104093", "HK_MACAU_TW_ID")]),
    ("护照号 G12345678（旧版）", [("G12345678", "PASSPORT")]),
    ("统一社会信用代码 91350100M000100Y43", [("91350100M000100Y43", "ORG_CREDIT_CODE")]),
    ("本院（统一社会信用代码 91350100M000100Y44）", []),
    ("访问日志：192.168.10.25 查询患者列表", [("192.168.10.25", "IP_ADDRESS")]),
    ("升级到 2.16.156.10011 标准，版本 4.2.0.1", []),
    ("今天是世界艾滋病日，医院开展宣传活动。", []),
    ("中风险地区来院人员请主动报备。", []),
    ("患者于今日上午出院，嘱定期复查。", []),
    ("医生建议低盐低脂饮食，适当运动。", []),
    ("主任医师表示手术顺利。", []),
    ("本次共处理中药饮片订单312笔。", []),
    ("检验科今日完成标本5632份，其中急诊标本812份。", []),
    ("患者张三丰，男，身份证110105194912310021", [("张三丰", "PERSON_NAME")]),
    ("请拨打客服电话 400-800-1234 咨询", []),
    ("紧急联系人 陈小红 15800001111", [("陈小红", "PERSON_NAME"), ("15800001111", "PHONE_NUMBER")]),
    ("电子邮箱：liuyang@hospital.example.cn", [("liuyang@hospital.example.cn", "EMAIL_ADDRESS")]),
    ("银行卡号：6222 0212 3456 7890 128", [("6222 0212 3456 7890 128", "BANK_CARD")]),
    ("出院诊断：肺结核（继发性，涂阳）", [("肺结核", "SPECIAL_DISEASE")]),
    ("诊断：混合痔；行痔切除术。", [("混合痔", "SPECIAL_DISEASE")]),
    ("术后予以头孢曲松 2g 静滴抗感染治疗。", [("头孢曲松", "DRUG")]),
    ("长期服用华法林，INR 2.5", [("华法林", "DRUG"), ("INR 2.5", "LAB_RESULT")]),
    ("患者因精神分裂症长期服用利培酮。", [("精神分裂症", "SPECIAL_DISEASE"), ("利培酮", "DRUG")]),
    ("确诊帕金森病5年，口服多巴丝肼片。", [("帕金森病", "SPECIAL_DISEASE"), ("多巴丝肼片", "DRUG")]),
    ("患儿，诊断：先天性心脏病，室间隔缺损。", [("先天性心脏病", "DIAGNOSIS"), ("室间隔缺损", "DIAGNOSIS")]),
    ("孕妇，妊娠期糖尿病，胰岛素控制血糖。", [("妊娠期糖尿病", "DIAGNOSIS"), ("胰岛素", "DRUG")]),
    (
        "急性心肌梗死，急诊行PCI术，术后阿司匹林+替格瑞洛双抗。",
        [("急性心肌梗死", "DIAGNOSIS"), ("阿司匹林", "DRUG"), ("替格瑞洛", "DRUG")],
    ),
    ("The patient, Maria Gonzalez, was admitted with chest pain.", [("Maria Gonzalez", "PERSON_NAME")]),
    (
        "Pt is a 54 y/o male with a history of hypertension and hyperlipidemia.",
        [("hypertension", "DIAGNOSIS"), ("hyperlipidemia", "DIAGNOSIS")],
    ),
    ("Started on lisinopril 10 mg daily and atorvastatin 40 mg.", [("lisinopril", "DRUG"), ("atorvastatin", "DRUG")]),
    ("Contact: (555) 123-4567", [("(555) 123-4567", "PHONE_NUMBER")]),
    ("Call the front desk at 212-555-0187 to reschedule.", [("212-555-0187", "PHONE_NUMBER")]),
    ("Email results to robert.chen@example.org", [("robert.chen@example.org", "EMAIL_ADDRESS")]),
    ("SSN 536-90-4399 on file", [("536-90-4399", "US_SSN")]),
    ("Invoice 123-45-6789 paid", []),
    ("Patient DOB 07/04/1962, MRN 00482913", [("07/04/1962", "DATE_OF_BIRTH"), ("00482913", "MEDICAL_RECORD_NUMBER")]),
    ("Lives at 42 Wallaby Way, Sydney", [("42 Wallaby Way, Sydney", "ADDRESS")]),
    (
        "Address: 1600 Pennsylvania Avenue NW, Washington, DC 20500",
        [("1600 Pennsylvania Avenue NW, Washington, DC 20500", "ADDRESS")],
    ),
    ("HbA1c 8.1% on 3/2; creatinine 1.4 mg/dL", [("HbA1c 8.1%", "LAB_RESULT"), ("creatinine 1.4 mg/dL", "LAB_RESULT")]),
    (
        "Diagnosed with stage II breast cancer, started tamoxifen.",
        [("breast cancer", "SPECIAL_DISEASE"), ("tamoxifen", "DRUG")],
    ),
    ("HIV viral load undetectable on dolutegravir.", [("HIV", "SPECIAL_DISEASE"), ("dolutegravir", "SPECIAL_DISEASE")]),
    ("BRCA1 c.68_69delAG pathogenic variant identified.", [("c.68_69delAG", "GENETIC_DATA")]),
    ("Seen by Dr. Okafor in clinic.", [("Okafor", "PERSON_NAME")]),
    ("Mrs. Watanabe called about her appointment.", [("Watanabe", "PERSON_NAME")]),
    ("Device MAC 3C:5A:B4:12:9F:01 paired to glucose monitor", [("3C:5A:B4:12:9F:01", "DEVICE_ID")]),
    ("Login from 203.0.113.77 failed twice", [("203.0.113.77", "IP_ADDRESS")]),
    ("Build 1.4.22.7 deployed to staging", []),
    ("Order #4521 shipped; tracking 1Z999AA10123456784", []),
    ("Random hex 7f3a9c2e1b4d8f6a0c5e and base64 QUJDREVGR0hJSktMTU5PUA==", []),
    ("The stroke of midnight; a keystroke logger; Mark my words.", []),
    ("Meeting with Sales at 10:30, room 4B.", []),
    ("Patient Name: Ahmed Al-Sayed", [("Ahmed Al-Sayed", "PERSON_NAME")]),
    ("Insurance No: XKJ907654321", [("XKJ907654321", "MEDICAL_INSURANCE_NUMBER")]),
    ("Passport number: 533380006", [("533380006", "PASSPORT")]),
    (
        "diagnosis code E11.65 (type 2 diabetes with hyperglycemia)",
        [("E11.65", "ICD10_CODE"), ("type 2 diabetes", "DIAGNOSIS")],
    ),
    ("ICD-10: C50.9", [("C50.9", "SPECIAL_DISEASE")]),
    ("ward B20, bed 12", []),
    ("time 2023-11-25T08:30:00.123Z trace=4bf92f3577b34da6a3ce929d0e0e4736", []),
    ("ts=1700000000123 user_id=13800138000", []),
    ("序列号：SN13812345678 设备已出库", []),
    ("患者赵敏（化名）自述头痛3天。", [("赵敏", "PERSON_NAME"), ("头痛", "DIAGNOSIS")]),
    ("陪同家属：孙立平，关系：父子。", [("孙立平", "PERSON_NAME")]),
    ("护士长刘芳芳巡视病房。", [("刘芳芳", "PERSON_NAME")]),
    ("经治医生：周杰，上级医生：吴海燕", [("周杰", "PERSON_NAME"), ("吴海燕", "PERSON_NAME")]),
    ("患者诉近期失眠、焦虑，考虑焦虑症。", [("失眠", "DIAGNOSIS"), ("焦虑症", "SPECIAL_DISEASE")]),
    ("尿常规：尿蛋白（+），尿糖（-）", [("尿蛋白（+）", "LAB_RESULT"), ("尿糖（-）", "LAB_RESULT")]),
    ("血压 150/95 mmHg，心率 88 次/分", [("血压 150/95 mmHg", "LAB_RESULT"), ("心率 88 次/分", "LAB_RESULT")]),
    ("梅毒螺旋体抗体阳性，RPR 1:8", [("梅毒", "SPECIAL_DISEASE")]),
    ("慢性乙型病毒性肝炎，恩替卡韦抗病毒治疗中。", [("慢性乙型病毒性肝炎", "SPECIAL_DISEASE"), ("恩替卡韦", "DRUG")]),
    ("骨髓穿刺提示急性髓系白血病（M2型）", [("急性髓系白血病", "SPECIAL_DISEASE")]),
    ("左侧股骨颈骨折，拟行髋关节置换术。", [("股骨颈骨折", "DIAGNOSIS")]),
    ("甲状腺功能减退症，左甲状腺素钠片 50μg qd", [("甲状腺功能减退症", "DIAGNOSIS"), ("左甲状腺素钠片", "DRUG")]),
    ("过敏史：青霉素过敏。", [("青霉素过敏", "DIAGNOSIS")]),
    ("交易流水号 20231125000123456789 对账成功", []),
    ("会员卡号 6200000000000000 已过期", []),
    ("接口返回 code=13800 msg=ok cost=120ms", []),
    ("坐标 116.397128,39.916527 已定位", []),
]
out = []
for n, (text, ents) in enumerate(R):
    spans, pos = [], 0
    for val, typ in ents:
        i = text.find(val, pos)
        if i < 0:
            i = text.find(val)
        if i < 0:
            sys.exit(f"not found: {val!r} in {text!r}")
        spans.append({"start": i, "end": i + len(val), "type": typ})
        pos = i + len(val)
    out.append({"id": f"hand-{n:03d}", "text": text, "spans": spans})
with open(sys.argv[1], "w", encoding="utf-8") as f:
    for r in out:
        f.write(json.dumps(r, ensure_ascii=False) + "\n")
print(len(out))
